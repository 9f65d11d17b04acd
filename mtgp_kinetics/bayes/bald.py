"""Mutual information between a new measurement and the hyperparameters (BALD) for GP regression.

With hyperparameter draws ``theta_1 .. theta_K`` the predictive of a measurement ``y`` of task ``t``
at ``x`` is the mixture ``(1/K) sum_k N(mu_k, s_k^2)`` (noise included), and

    I(y; theta | x, D) = H[(1/K) sum_k N(mu_k, s_k^2)] - (1/K) sum_k (1/2) log(2 pi e s_k^2)

(Houlsby et al. 2011, eq. 2: the entropy of the posterior-averaged predictive minus the expected
entropy of the per-draw predictive). It is large where the draws disagree -- about the mean (a
lengthscale or the task correlation matters there) or about the spread -- so measuring there
discriminates between hyperparameters. The mixture entropy has no closed form; it is computed by
Gauss-Hermite quadrature per component (:func:`~mtgp_kinetics.bayes.mixture.mixture_entropy`).

Reference: Houlsby, N., Huszar, F., Ghahramani, Z., Lengyel, M. (2011). Bayesian active learning for
classification and preference learning. arXiv:1112.5745.
"""

from __future__ import annotations

import math

import numpy as np

from mtgp_kinetics.bayes.mixture import mixture_entropy


def mutual_information(mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """BALD value (nats, ``N``) of each of ``N`` Gaussian mixtures given as ``K x N`` arrays.

    Parameters
    ----------
    mu, s : ndarray
        ``K x N`` per-draw predictive means and stds of the measurement (noise included).

    Returns
    -------
    ndarray
        ``N`` values >= 0 (clipped at 0 against quadrature rounding).
    """
    s = np.maximum(s, 1e-12)
    expected = (0.5 * np.log(2.0 * math.pi * math.e * s**2)).mean(0)
    return np.clip(mixture_entropy(mu, s) - expected, 0.0, None)
