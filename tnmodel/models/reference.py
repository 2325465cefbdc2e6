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


def _beta_concentration(draws: np.ndarray, inflation: float, prior: float) -> float:
    """Concentration of a Beta with the draws' mean and inflated variance, but never below
    ``prior`` (the reference fit's own) nor 2."""
    m, v = float(np.mean(draws)), float(np.var(draws)) * inflation**2
    return float(max(2.0, prior, m * (1 - m) / max(v, 1e-9) - 1))


def summarise_hyperparameters(fit, inflation: float = DEFAULT_INFLATION) -> dict:
    """Prior settings (of ``fit``'s family) from the posterior of its pooled parameters.

    Means are posterior means (medians for scales); sds are posterior sds times
    ``inflation``. A learned prior is never wider than the prior the reference fit started
    from: where the panel says little about a parameter (its posterior about as wide as its
    prior, so the inflated one wider), the prior's own width is kept, around the posterior
    mean.
    """
    post = fit.posterior.posterior
    own = fit.spec.priors

    def draws(name: str) -> np.ndarray:
        return np.asarray(post[name].values).reshape(-1, *post[name].shape[2:])

    def r(x: float) -> float:
        return float(f"{x:.4g}")

    def sd(values: np.ndarray, prior_sd: float, least: float) -> float:
        return r(max(min(float(values.std()) * inflation, prior_sd), least))

    def concentration(values: np.ndarray, field: str) -> float:
        return r(_beta_concentration(values, inflation, getattr(own, field)))

    def pace_block(A: np.ndarray) -> dict:
        """Settings of :class:`~tnmodel.models.transition.PacePriors` the transition
        families share: pooled pace, asymptote ``A``, floor, dataset error."""
        omega, f = draws("mu_omega"), draws("floor")
        return {
            "pace_mean": r(omega.mean()), "pace_sd": sd(omega, own.pace_sd, 0.02),
            "pace_spread_mean": r(draws("tau_omega").mean()),
            "asymptote_mean": r(A.mean()),
            "asymptote_concentration": concentration(A, "asymptote_concentration"),
            "floor_mean": r(f.mean()),
            "floor_concentration": concentration(f, "floor_concentration"),
            "obs_sd_dataset": r(np.median(draws("sigma_src")[:, 0])),
        }

    family = fit.spec.family
    if family == "transition":
        rho, sigma_ar = draws("rho"), draws("sigma_ar")
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
            **pace_block(A), **per_geo,
            "ar_rho_mean": r(rho.mean()),
            "ar_rho_concentration": concentration(rho, "ar_rho_concentration"),
            "ar_sd_median": r(np.median(sigma_ar)),
            "ar_sd_log_sd": sd(np.log(sigma_ar), own.ar_sd_log_sd, 0.1),
        }
    if family == "transition_local":
        phi, sigma_u = draws("phi"), draws("sigma_u")
        return {
            **pace_block(draws("asymptote")),
            "persistence_mean": r(phi.mean()),
            "persistence_concentration": concentration(phi, "persistence_concentration"),
            "innovation_sd_median": r(np.median(sigma_u)),
            "innovation_sd_log_sd": sd(np.log(sigma_u), own.innovation_sd_log_sd, 0.1),
            # The scale and tails the panel's sigma_u is measured with go with it.
            "innovation_scaling": own.innovation_scaling,
            "innovation_tails": own.innovation_tails,
            "pace_curve_power": own.pace_curve_power,
            "innovation_sd_trend": own.innovation_sd_trend,
        }
    if family in ("logit_trend", "logistic"):
        beta, tau = draws("mu_beta"), draws("tau_beta")
        out = {"pace_mean": r(beta.mean()), "pace_sd": sd(beta, own.pace_sd, 0.02),
               "pace_spread_mean": r(tau.mean()),
               "obs_sd_median": r(np.median(draws("sigma_obs")))}
        if family == "logistic":
            C = draws("ceiling")
            out |= {"ceiling_mean": r(C.mean()),
                    "ceiling_concentration": concentration(C, "ceiling_concentration")}
        return out
    raise ValueError(f"no reference summary for family '{family}'")


#: Families whose pooled hyper-parameters :func:`summarise_hyperparameters` can turn into
#: prior settings.
REFERENCE_FAMILIES = ("transition", "transition_local", "logit_trend", "logistic")


def learn_priors(series, family: str, *, sampler, gates, seed: int,
                 inflation: float = DEFAULT_INFLATION, priors: dict | None = None):
    """Fit ``family`` to a reference panel ``series``; its hyper-parameters as priors.

    Parameters
    ----------
    series : SeriesData
        The reference panel (several geos: the pooled parameters are what is learned).
    family : str
        One of :data:`REFERENCE_FAMILIES`.
    sampler, gates, seed
        As for :func:`tnmodel.models.fit_series`.
    inflation : float
        Posterior sds are multiplied by this when they become prior sds.
    priors : mapping, optional
        Prior settings of the reference fit itself (e.g. ``innovation_scaling``).

    Returns
    -------
    settings, fit
        The prior settings (a dict for ``priors_for(family, ...)``) and the reference fit.

    Raises
    ------
    ConvergenceError
        If the reference fit fails its gates (after the automatic retry).
    """
    from tnmodel.models import ModelSpec, fit_series

    if family not in REFERENCE_FAMILIES:
        raise ValueError(f"no reference summary for family '{family}'; families with one: "
                         f"{', '.join(REFERENCE_FAMILIES)}")
    fit = fit_series(series, ModelSpec(family=family, priors=priors), sampler, seed, gates)
    return summarise_hyperparameters(fit, inflation), fit


def learn_reference(dataset, indicator: str, *, family: str = "transition",
                    since: int | None = None, until: int | None = None,
                    exclude_geos: tuple[str, ...] = (), sampler=None, gates=None,
                    seed: int = 2030, inflation: float = DEFAULT_INFLATION) -> dict:
    """Fit ``family`` to a reference panel and return the reference document (a dict)."""
    from tnmodel.models import GateThresholds, SamplerSettings
    from tnmodel.models.series import select_series

    sampler = sampler or SamplerSettings()
    gates = gates or GateThresholds()
    series = select_series(dataset, indicator, since=since, until=until,
                           exclude_geos=exclude_geos)
    settings, fit = learn_priors(series, family, sampler=sampler, gates=gates, seed=seed,
                                 inflation=inflation)
    return {
        "family": family,
        "priors": settings,
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
