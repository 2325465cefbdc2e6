"""Monte-Carlo standard error of a posterior mean, in plain numpy.

The same estimator as ArviZ's ``mcse(method="mean")`` (split chains; effective sample size
from the autocorrelations with Geyer's initial positive and monotone sequences, Vehtari et
al. 2021), without importing ArviZ: reading cached fits and evaluating targets then needs no
PyMC stack at all. ``tests/test_mcse.py`` checks the two agree.
"""

from __future__ import annotations

import numpy as np


def _autocov(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance of each row, by FFT."""
    n = x.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    centred = x - x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=1)[:, :n] / n


def _split_chains(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, -half:]], axis=0)


def effective_sample_size(x: np.ndarray) -> float:
    """ESS of the mean of ``x`` with shape (chain, draw) (chains split in halves)."""
    x = _split_chains(np.asarray(x, dtype=float))
    chains, draws = x.shape
    acov = _autocov(x)
    mean_var = acov[:, 0].mean() * draws / (draws - 1.0)
    var_plus = mean_var * (draws - 1.0) / draws
    if chains > 1:
        var_plus += x.mean(axis=1).var(ddof=1)
    rho = np.zeros(draws)
    rho[0] = even = 1.0
    rho[1] = odd = 1.0 - (mean_var - acov[:, 1].mean()) / var_plus
    # Geyer's initial positive sequence: sum pairs while they are positive.
    t = 1
    while t < draws - 3 and even + odd > 0.0:
        even = 1.0 - (mean_var - acov[:, t + 1].mean()) / var_plus
        odd = 1.0 - (mean_var - acov[:, t + 2].mean()) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    last = t - 2
    if even > 0:
        rho[last + 1] = even
    # Geyer's initial monotone sequence.
    t = 1
    while t <= last - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = chains * draws
    tau = -1.0 + 2.0 * rho[: last + 1].sum() + rho[last + 1: last + 2].sum()
    return float(total / max(tau, 1.0 / np.log10(total)))


def mcse_mean(x: np.ndarray) -> float:
    """Monte-Carlo standard error of the mean of ``x`` with shape (chain, draw)."""
    x = np.asarray(x, dtype=float)
    return float(x.std(ddof=1) / np.sqrt(effective_sample_size(x)))
