"""Reference priors: adoption-pace hyper-parameters learned once from a reference panel.

FPEM fits its global model once and reuses the hyper-parameters for many local fits; here a
family is fitted once to a reference panel (the shipped internet-users panel), the
posterior of its pooled hyper-parameters is summarised as prior settings, and the settings
are stored as a YAML file with their provenance (data hash, date, fit settings, diagnostics).
A scenario reuses them with ``priors: {from: reference_internet}`` (plus overrides).

Files live in ``tnmodel/models/reference/<name>.yaml``; ``from`` also accepts a path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from tnmodel.problems import did_you_mean

REFERENCE_DIR = Path(__file__).parent / "reference"
#: Posterior sds of hyper-parameters are multiplied by this when they become priors: the
#: reference panel (countries) is not the place the prior is used for (a province, another
#: indicator), so the prior is kept wider than the panel's posterior.
DEFAULT_INFLATION = 2.0


@dataclass(frozen=True)
class Reference:
    """Prior settings of one family learned from a reference panel."""

    name: str
    family: str
    priors: dict
    provenance: dict


def available() -> list[str]:
    return sorted(p.stem for p in REFERENCE_DIR.glob("*.yaml"))


def load_reference(name: str) -> Reference:
    """A reference prior file by name (``tnmodel/models/reference/<name>.yaml``) or path."""
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        path = REFERENCE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown reference priors '{name}'{did_you_mean(name, available())}; "
                         f"available: {', '.join(available()) or 'none'}")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict) or "family" not in doc or "priors" not in doc:
        raise ValueError(f"{path}: not a reference prior file (needs 'family' and 'priors')")
    return Reference(path.stem, str(doc["family"]), dict(doc["priors"]),
                     dict(doc.get("provenance", {})))


def _beta_concentration(draws: np.ndarray, inflation: float) -> float:
    m, v = float(np.mean(draws)), float(np.var(draws)) * inflation**2
    return float(max(2.0, m * (1 - m) / max(v, 1e-9) - 1))


def summarise_hyperparameters(fit, inflation: float = DEFAULT_INFLATION) -> dict:
    """Prior settings (of ``fit``'s family) from the posterior of its pooled parameters."""
    post = fit.posterior.posterior

    def draws(name: str) -> np.ndarray:
        return np.asarray(post[name].values).reshape(-1, *post[name].shape[2:])

    def r(x: float) -> float:
        return float(f"{x:.4g}")

    family = fit.spec.family
    if family == "transition":
        omega, tau = draws("mu_omega"), draws("tau_omega")
        f, rho = draws("floor"), draws("rho")
        sigma_ar, sigma_src = draws("sigma_ar"), draws("sigma_src")
        per_geo = {}
        if "mu_asymptote" in post:
            # The typical asymptote across geos (its prior is stated as a Beta; see
            # TransitionPriors.asymptote_logit_moments) and the spread of geos around it.
            A = 1.0 / (1.0 + np.exp(-draws("mu_asymptote")))
            per_geo = {"asymptote_per_geo": True,
                       "asymptote_spread_mean": r(draws("tau_asymptote").mean())}
        else:
            A = draws("asymptote")
        return {
            "pace_mean": r(omega.mean()), "pace_sd": r(max(omega.std() * inflation, 0.02)),
            "pace_spread_mean": r(tau.mean()),
            "asymptote_mean": r(A.mean()),
            "asymptote_concentration": r(_beta_concentration(A, inflation)),
            **per_geo,
            "floor_mean": r(f.mean()), "floor_concentration": r(_beta_concentration(f, inflation)),
            "ar_rho_mean": r(rho.mean()),
            "ar_rho_concentration": r(_beta_concentration(rho, inflation)),
            "ar_sd_median": r(np.median(sigma_ar)),
            "ar_sd_log_sd": r(max(np.log(sigma_ar).std() * inflation, 0.1)),
            "obs_sd_dataset": r(np.median(sigma_src[:, 0])),
        }
    if family in ("logit_trend", "logistic"):
        beta, tau = draws("mu_beta"), draws("tau_beta")
        out = {"pace_mean": r(beta.mean()), "pace_sd": r(max(beta.std() * inflation, 0.02)),
               "pace_spread_mean": r(tau.mean()),
               "obs_sd_median": r(np.median(draws("sigma_obs")))}
        if family == "logistic":
            C = draws("ceiling")
            out |= {"ceiling_mean": r(C.mean()),
                    "ceiling_concentration": r(_beta_concentration(C, inflation))}
        return out
    raise ValueError(f"no reference summary for family '{family}'")


def learn_reference(dataset, indicator: str, *, family: str = "transition",
                    since: int | None = None, until: int | None = None,
                    exclude_geos: tuple[str, ...] = (), sampler=None, gates=None,
                    seed: int = 2030, inflation: float = DEFAULT_INFLATION) -> dict:
    """Fit ``family`` to a reference panel and return the reference document (a dict)."""
    from tnmodel.models import GateThresholds, ModelSpec, SamplerSettings, fit_series
    from tnmodel.models.series import select_series

    sampler = sampler or SamplerSettings()
    gates = gates or GateThresholds()
    series = select_series(dataset, indicator, since=since, until=until,
                           exclude_geos=exclude_geos)
    fit = fit_series(series, ModelSpec(family=family), sampler, seed, gates)
    return {
        "family": family,
        "priors": summarise_hyperparameters(fit, inflation),
        "provenance": {
            "what": f"hyper-parameters of the '{family}' family fitted to '{indicator}'",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["tnmodel", *sys.argv[1:]]) if sys.argv else "",
            "data_dir": str(dataset.root.name),
            "data_hash": dataset.content_hash,
            "observations_sha256": dataset.file_hashes.get("observations.csv"),
            "indicator": indicator, "since": since, "until": until,
            "geos": list(series.geos), "n_obs": int(series.n_obs),
            "years": [int(series.year.min()), int(series.year.max())],
            "sampler": sampler.model_dump(), "gates": gates.model_dump(), "seed": seed,
            "inflation": inflation,
            "diagnostics": fit.diagnostics.as_dict(),
        },
    }


def write_reference(doc: dict, path: Path | str) -> Path:
    """Write a reference document as YAML (temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    header = ("# Reference priors learned by `tnmodel priors learn` (do not edit by hand: "
              "re-run the command in provenance.command).\n")
    tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
                   encoding="utf-8")
    tmp.replace(path)
    return path
