"""Speed benchmarks on the shipped data. Prints figures; not a test.

    python benchmarks/run.py [--fast] [--only NAME ...] [--variants 100]

Figures (goals on 2 cores in brackets):

cold      `tnmodel run` of every shipped scenario with an empty fit cache      [<= 45 s]
          (the fits made in parallel worker processes first: tnmodel.prefit)
warm      the same again, fits from the cache (in-process and as a command)    [<= 3 s]
marginal  one more scenario once the fits are cached                           [<= 0.1 s]
refit     one province's data changed, the model already compiled (vs first fit)
ess       bulk ESS per second, nutpie against PyMC's default NUTS, same model
sweep     a 100-variant sweep, serial against Dask (LocalCluster)              [<= 60 s]

PyTensor's and numba's on-disk compile caches are left as they are (the project keeps them
in .cache/); the fit cache is a fresh temporary folder, so "cold" means "no fits cached".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={REPO / '.cache' / 'pytensor'}")
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
os.environ["TNMODEL_PROGRESS"] = "0"
SCENARIOS = sorted(str(p) for p in (REPO / "scenarios").glob("*.yaml"))
RESULTS: list[tuple[str, str, str]] = []


def report(name: str, figure: str, goal: str = "") -> None:
    RESULTS.append((name, figure, goal))
    print(f"{name:<44} {figure:<28} {goal}", flush=True)


def tnmodel_command(*args: str, cache: Path) -> float:
    env = os.environ | {"TNMODEL_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tnmodel", *args], env=env, cwd=REPO,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"tnmodel {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds


def bench_runs(work: Path, fast: bool) -> None:
    extra = ["--fast"] if fast else []
    cache = work / "fits"
    cold = tnmodel_command("run", *SCENARIOS, "--out", str(work / "cold"), "-q", *extra,
                           cache=cache)
    report(f"cold run, {len(SCENARIOS)} scenarios (command)", f"{cold:.1f} s", "goal <= 45 s")
    warm = tnmodel_command("run", *SCENARIOS, "--out", str(work / "warm"), "-q", *extra,
                           cache=cache)
    report("warm run (command, incl. imports)", f"{warm:.2f} s", "")

    os.environ["TNMODEL_CACHE_DIR"] = str(cache)
    from tnmodel.runner import run_scenario, write_result
    from tnmodel.scenario import load_scenario

    scenarios = [load_scenario(p) for p in SCENARIOS]
    started = time.perf_counter()
    for scenario in scenarios:
        write_result(run_scenario(scenario, fast=fast), work / "warm-in-process")
    first = time.perf_counter() - started
    started = time.perf_counter()
    for scenario in scenarios:
        write_result(run_scenario(scenario, fast=fast), work / "warm-in-process")
    again = time.perf_counter() - started
    report("warm run (in process, first / again)", f"{first:.2f} s / {again:.2f} s",
           "goal <= 3 s")

    # One more scenario an advisor might write: the Resolution-01 push with a bigger push (a
    # new intervention setting; the same fits), and a copy of the baseline under a new name.
    from tnmodel.scenario import expand_sweep

    push = next(s for s in scenarios if s.name == "resolution01_push")
    bigger = expand_sweep(push, {"interventions[0].factor.median": ["1.5"]})[0]
    renamed = scenarios[0].model_copy(update={"name": "one_more"})
    for label, scenario in (("new intervention setting", bigger), ("renamed copy", renamed)):
        started = time.perf_counter()
        write_result(run_scenario(scenario, fast=fast), work / "warm-in-process")
        report(f"one more scenario, {label}", f"{time.perf_counter() - started:.3f} s",
               "goal <= 0.1 s")


def bench_refit() -> None:
    from tnmodel.data import load_dataset
    from tnmodel.models import ModelSpec, SamplerSettings, fit_series, select_series
    from tnmodel.models.sampling import clear_compiled, compile_stats

    dataset = load_dataset(REPO / "data")
    series = select_series(dataset, "online_dossier_share")
    sampler = SamplerSettings(chains=4, draws=1000, tune=1000)
    clear_compiled()
    started = time.perf_counter()
    fit_series(series, ModelSpec(), sampler, seed=1, gates=_loose())
    first = time.perf_counter() - started
    # The same structure with one province's values changed (+1 point on the logit scale of
    # its latest observation): refitted by swapping data into the compiled model.
    geo = series.geo_index[-1]
    y = series.y.copy()
    y[series.geo_index == geo] += 0.1
    changed = type(series)(**{**series.__dict__, "y": y})
    started = time.perf_counter()
    fit_series(changed, ModelSpec(), sampler, seed=1, gates=_loose())
    second = time.perf_counter() - started
    report("one province refit: first fit / recompiled-free", f"{first:.1f} s / {second:.1f} s",
           f"compiled {compile_stats()['compiled']}, reused {compile_stats()['reused']}")


def _loose():
    from tnmodel.models import GateThresholds

    return GateThresholds(max_rhat=1.1, min_ess_bulk=50, max_divergences=50)


def bench_ess() -> None:
    import arviz as az
    import pymc as pm

    from tnmodel.data import load_dataset
    from tnmodel.models import LogitTrendPriors, select_series
    from tnmodel.models.logit_trend import build_model

    series = select_series(load_dataset(REPO / "data"), "internet_users_share", since=2010)
    for sampler in ("nutpie", "pymc"):
        model = build_model(series, LogitTrendPriors())
        with model:
            started = time.perf_counter()
            tree = pm.sample(draws=1000, tune=1000, chains=2, cores=2, nuts_sampler=sampler,
                             random_seed=3, progressbar=False, compute_convergence_checks=False,
                             target_accept=0.99)
            seconds = time.perf_counter() - started
        ess = az.ess(tree, var_names=["alpha", "beta", "sigma_obs"], method="bulk")
        table = ess.to_dataset()
        if not table.data_vars:
            table = ess["posterior"].to_dataset()
        low = min(float(table[v].min()) for v in ("alpha", "beta", "sigma_obs"))
        sampling = float(tree.posterior.attrs.get("sampling_time", seconds))
        report(f"ESS/s {sampler} (internet panel)",
               f"{low / sampling:.0f} /s sampling, {low / seconds:.0f} /s with compile",
               f"min bulk ESS {low:.0f}; {sampling:.1f} s sampling of {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="fast sampler (quick look)")
    parser.add_argument("--only", nargs="*", default=None,
                        choices=["runs", "refit", "ess", "sweep"])
    parser.add_argument("--variants", type=int, default=100)
    args = parser.parse_args()
    chosen = set(args.only or ["runs", "refit", "ess", "sweep"])
    print(f"tnmodel benchmarks on {os.cpu_count()} cores ({'fast' if args.fast else 'full'} "
          "sampler)\n")
    with tempfile.TemporaryDirectory(prefix="tnmodel-bench-") as tmp:
        work = Path(tmp)
        if "runs" in chosen:
            bench_runs(work, args.fast)
        if "refit" in chosen:
            bench_refit()
        if "ess" in chosen:
            bench_ess()
        if "sweep" in chosen:
            bench_sweep(work, args.variants, args.fast)


def bench_sweep(work: Path, variants: int, fast: bool) -> None:
    """Variants of the Resolution-01 push that differ in the size of the online-services
    push: one fit group, so the sweep measures applying scenarios to cached fits."""
    import itertools

    from tnmodel.scenario import expand_sweep, load_scenario
    from tnmodel.sweep import Variant, run_sweep

    push = load_scenario(REPO / "scenarios" / "resolution01_push.yaml")
    medians = [f"{1.0 + 0.65 * i / max(variants - 1, 1):.4f}" for i in range(variants)]
    grid = {"interventions[0].factor.median": medians}
    children = expand_sweep(push, grid)
    combos = itertools.product(*grid.values())
    variants_ = [Variant(c.name, c, dict(zip(grid, combo, strict=True)))
                 for c, combo in zip(children, combos, strict=True)]
    cache = work / "fits"
    for executor in ("serial", "dask"):
        started = time.perf_counter()
        result = run_sweep(variants_, executor=executor, fast=fast, cache_dir=cache)
        seconds = time.perf_counter() - started
        report(f"{variants}-variant sweep, {executor}", f"{seconds:.1f} s",
               f"goal <= 60 s; {result.manifest['fit_groups']} fit group(s)")


if __name__ == "__main__":
    main()
