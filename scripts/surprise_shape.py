"""Where a transition_local fit's falls come from: its one-year surprises' shape, and the
chance of a fall one year ahead with each part of the forecast left out.

    python scripts/surprise_shape.py --data data/heldout/internet_users_heldout5.csv \
        --cutoff 2012 --since 2005 --prior floor_mean=0.5 --prior floor_concentration=10 \
        --prior pace_drift=common --prior volatility=regimes --prior forecast_pace=pooled

One development fit, not a back-test (seventeenth round: the numbers of its
pre-registration in ``docs/backtests.md``). It fits ``transition_local`` with the ``--prior``
settings to the file's values up to ``--cutoff``, as ``tnmodel backtest`` does (the same
sampler settings and seed), then prints two tables:

- **The in-sample surprises** (each value that follows its geo's previous one by a year):
  their standardised size ``z`` under the fit's conditional mean and variance (posterior
  mean per value), its skewness and the shares beyond +-1.28 (10% each for a normal), the
  share of values that fell, and the chance of a fall the fit's conditionals give if they
  are normal (with jumps, blips or t tails they are not, and that column is left out).
- **One year ahead** (geos whose last value is at the cut-off): the chance that the
  forecast falls below the level at the cut-off, and the share of geos whose 10% quantile
  does, with the full forecast and with each part left out in turn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tnmodel.backtest import Z80
from tnmodel.models import inv_logit_percent


def surprise_table(eta: np.ndarray, mean: np.ndarray, variance: np.ndarray, prev: np.ndarray,
                   gap: np.ndarray, first: np.ndarray) -> pd.DataFrame:
    """One row per one-year surprise: the level before it (percent), whether the value fell,
    its standardised size ``z`` (posterior mean) and the chance of a fall under a normal
    conditional (posterior mean). ``eta``, ``mean``, ``variance`` are (obs, sample)."""
    keep = (first < 1) & (gap == 1)
    before = eta[prev][keep]
    sd = np.sqrt(variance[keep])
    return pd.DataFrame({
        "level": inv_logit_percent(before.mean(axis=1)),
        "fell": eta[keep].mean(axis=1) < before.mean(axis=1),
        "z": ((eta[keep] - mean[keep]) / sd).mean(axis=1),
        "p_fall_normal": stats.norm.cdf((before - mean[keep]) / sd).mean(axis=1)})


def shape_summary(table: pd.DataFrame, normal: bool) -> pd.DataFrame:
    """The surprises' shape in one row (see the module docstring)."""
    row = {"n": len(table), "skewness": stats.skew(table["z"]),
           "below_-1.28": (table["z"] < -Z80).mean(),
           "above_1.28": (table["z"] > Z80).mean(), "fell": table["fell"].mean()}
    if normal:
        row["p_fall_normal"] = table["p_fall_normal"].mean()
    return pd.DataFrame([row]).round(3)


#: Draws a part is left out by: set to 0 (the rest are dropped: the forecast then does without).
ZEROED = ("last_error_sd", "sigma_src", "sigma_u")

#: The parts left out, in turn: each a name and the draws that leave it out.
PARTS = {"full forecast": (),
         "without the last value's error": ("last_error_sd",),
         "without new observation errors": ("sigma_src",),
         "without either observation error": ("last_error_sd", "sigma_src"),
         "without innovations": ("sigma_u",),
         "with the geo's own pace": ("mu_omega",),
         "without a fresh volatility spell": ("tau_vol",),
         "without jumps": ("jump_rate",)}


def _without(draws: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {name: values for name, values in draws.items()
           if name not in names or name in ZEROED}
    return out | {name: np.zeros_like(draws[name]) for name in names if name in ZEROED}


def falls_by_part(forecast, draws: dict[str, np.ndarray], at_cutoff: np.ndarray,
                  seed: int = 1) -> pd.DataFrame:
    """The chance of a fall one year ahead, and the share of geos whose 10% quantile lies
    below the level, with each of :data:`PARTS` left out (the parts the fit has).

    ``forecast(draws, rng)`` returns one year ahead, percent (sample, geo); ``at_cutoff``
    marks the geos whose last value is at the cut-off (the others are left out).
    """
    level = inv_logit_percent(draws["last_eta"])  # (sample, geo)
    rows = []
    for part, names in PARTS.items():
        if any(name not in draws for name in names):
            continue
        values = forecast(_without(draws, names), np.random.default_rng(seed))
        below = values < level
        q10 = np.quantile(values, 0.1, axis=0) < level.mean(axis=0)
        rows.append({"forecast": part, "p_fall": below[:, at_cutoff].mean(),
                     "q10_below": q10[at_cutoff].mean()})
    return pd.DataFrame(rows).set_index("forecast").round(3)


def main() -> None:
    from tnmodel.backtest import (
        family_priors,
        markdown_table,
        read_backtest_csv,
        training_series,
    )
    from tnmodel.models import (
        FAMILIES,
        ConvergenceError,
        ModelSpec,
        SamplerSettings,
        fit_series,
    )
    from tnmodel.models.transition_local import fitted_conditionals

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cutoff", type=int, required=True)
    parser.add_argument("--indicator", default="internet_users_share")
    parser.add_argument("--since", type=int)
    parser.add_argument("--upper", type=float, default=100.0)
    parser.add_argument("--prior", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2030,
                        help="as tnmodel backtest's: the fit's seed is this plus the cut-off")
    args = parser.parse_args()
    try:
        frame = read_backtest_csv(args.data, indicator=args.indicator, since=args.since)
        settings = family_priors(args.prior, ["transition_local"], args.upper).get(
            "transition_local", {})
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    train = frame[frame["year"] <= args.cutoff]
    geos = tuple(sorted(train["geo"].unique()))
    series, _ = training_series(train, geos, args.upper, args.indicator)
    try:
        fit = fit_series(series, ModelSpec(family="transition_local", priors=settings),
                         SamplerSettings(chains=args.chains, draws=args.draws, tune=args.tune),
                         args.seed + args.cutoff)
    except ConvergenceError as exc:
        raise SystemExit(f"{args.data}, cut-off {args.cutoff}: {exc}") from None
    fitted = fitted_conditionals(fit.posterior, series)
    arrays = fitted.arrays
    table = surprise_table(fitted.eta, fitted.mean, fitted.variance(fit.posterior, series),
                           arrays["prev"], arrays["gap"], arrays["first"])
    normal = not any(name in fit.posterior.posterior
                     for name in ("jump_rate", "outlier_rate", "nu"))
    print(markdown_table(f"{args.data.name}, cut-off {args.cutoff}: the fit's one-year "
                         "surprises", shape_summary(table, normal).set_axis([args.data.stem]),
                         "data"))
    family = FAMILIES["transition_local"]
    at_cutoff = fit.draws["last_year"].astype(int) == args.cutoff

    def one_year_ahead(draws, rng):
        return family.forecast(draws, series, np.array([args.cutoff + 1]), rng)[0][:, :, 0]

    print()
    print(markdown_table(f"One year ahead ({int(at_cutoff.sum())} geos with a value at the "
                         "cut-off):", falls_by_part(one_year_ahead, fit.draws, at_cutoff),
                         "forecast"))


if __name__ == "__main__":
    sys.exit(main())
