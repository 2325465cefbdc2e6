"""tnmodel.models.mcse agrees with ArviZ and has the right scale on known processes."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from tnmodel.models import mcse_of_mean
from tnmodel.models.mcse import effective_sample_size, mcse_mean


def _ar1(phi: float, chains: int, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(chains, draws))
    x = np.zeros_like(noise)
    x[:, 0] = noise[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_agrees_with_arviz(phi):
    x = _ar1(phi, 4, 800, seed=int(phi * 10))
    for values in (x, (x > 0.3).astype(float)):
        assert mcse_mean(values) == pytest.approx(float(az.mcse(values, method="mean")),
                                                  rel=1e-9)


def test_ess_of_an_ar1_is_near_its_theoretical_value():
    # For AR(1) with coefficient phi, ESS = N (1 - phi) / (1 + phi).
    phi, chains, draws = 0.6, 8, 4000
    x = _ar1(phi, chains, draws, seed=3)
    expected = chains * draws * (1 - phi) / (1 + phi)
    assert effective_sample_size(x) == pytest.approx(expected, rel=0.1)


def test_mcse_of_mean_takes_stacked_draws_and_is_zero_for_a_constant():
    x = _ar1(0.3, 2, 500, seed=4)
    assert mcse_of_mean(x.ravel(), chains=2) == pytest.approx(mcse_mean(x))
    assert mcse_of_mean(np.ones(1000), chains=2) == 0.0
