"""Moments and quantiles of equally weighted Gaussian mixtures (one component per posterior draw).

Arrays are ``K x N``: ``K`` draws (components), ``N`` predicted quantities, each component
``N(mu[k, i], s[k, i]^2)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm


def mixture_moments(mu: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (``N`` each) of the mixture: law of total variance."""
    mean = mu.mean(0)
    variance = (s**2 + mu**2).mean(0) - mean**2
    return mean, np.sqrt(np.clip(variance, 0.0, None))


def mixture_cdf(x: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``P(Y_i <= x_i)`` for ``x`` of shape ``N``."""
    return norm.cdf((x[None, :] - mu) / np.maximum(s, 1e-300)).mean(0)


def mixture_logpdf(x: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Log density (``N``) of the mixture at ``x`` (``N``)."""
    return logsumexp(norm.logpdf(x[None, :], mu, np.maximum(s, 1e-300)), axis=0) - np.log(mu.shape[0])


def mixture_quantile(p: float, mu: np.ndarray, s: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """The ``p`` quantile (``N``) of the mixture, by bisection on its CDF (monotone).

    The bracket ``[min_k q_k, max_k q_k]`` of the components' own ``p`` quantiles always holds the
    mixture's; 200 halvings reach ``tol`` (relative to the bracket) for any practical width.
    """
    q = mu + norm.ppf(p) * s
    low, high = q.min(0), q.max(0)
    for _ in range(200):
        mid = 0.5 * (low + high)
        below = mixture_cdf(mid, mu, s) < p
        low, high = np.where(below, mid, low), np.where(below, high, mid)
        if np.all(high - low <= tol * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (low + high)


def mixture_entropy(mu: np.ndarray, s: np.ndarray, n_nodes: int = 32) -> np.ndarray:
    """Differential entropy (nats, ``N``) of each mixture, by Gauss-Hermite quadrature.

    ``H = -E[log p(Y)] = -(1/K) sum_k E_{Y ~ N(mu_k, s_k^2)} [log p(Y)]``; each inner expectation
    is a Gauss-Hermite rule with ``n_nodes`` nodes on component ``k`` (exact for a single Gaussian
    up to rounding; the mixture's log density is smooth, so it converges fast).
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    weights = weights / weights.sum()
    K, N = mu.shape
    total = np.zeros(N)
    for k in range(K):
        # Y at the nodes of component k: n_nodes x N; the mixture log density at each.
        y = mu[k][None, :] + s[k][None, :] * nodes[:, None]
        logp = logsumexp(
            norm.logpdf(y[None, :, :], mu[:, None, :], np.maximum(s[:, None, :], 1e-300)), axis=0
        ) - np.log(K)
        total -= (weights[:, None] * logp).sum(0)
    return total / K
