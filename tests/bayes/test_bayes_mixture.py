"""Mixture moments, quantiles, entropy and the BALD value against closed forms."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from mtgp_kinetics.bayes.bald import mutual_information
from mtgp_kinetics.bayes.mixture import mixture_cdf, mixture_entropy, mixture_moments, mixture_quantile

RNG = np.random.default_rng(0)
MU = RNG.normal(size=(5, 7))
S = RNG.uniform(0.2, 1.5, size=(5, 7))


def test_single_component_is_the_gaussian() -> None:
    mu, s = MU[:1], S[:1]
    mean, std = mixture_moments(mu, s)
    np.testing.assert_allclose(mean, mu[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(std, s[0], rtol=1e-12)
    # Bisection tolerance 1e-10 relative to the bracket.
    np.testing.assert_allclose(mixture_quantile(0.975, mu, s), mu[0] + norm.ppf(0.975) * s[0], atol=1e-8)
    np.testing.assert_allclose(
        mixture_entropy(mu, s), 0.5 * np.log(2 * math.pi * math.e * s[0] ** 2), atol=1e-10
    )


def test_quantiles_invert_the_mixture_cdf() -> None:
    for p in (0.025, 0.5, 0.975):
        np.testing.assert_allclose(mixture_cdf(mixture_quantile(p, MU, S), MU, S), p, atol=1e-8)


def test_moments_by_law_of_total_variance() -> None:
    mean, std = mixture_moments(MU, S)
    np.testing.assert_allclose(mean, MU.mean(0))
    np.testing.assert_allclose(std**2, (S**2).mean(0) + MU.var(0), rtol=1e-12)


def test_entropy_of_separated_components() -> None:
    # Two far-apart unit Gaussians: entropy = Gaussian entropy + log 2 (no overlap).
    mu = np.array([[-50.0], [50.0]])
    s = np.ones((2, 1))
    np.testing.assert_allclose(
        mixture_entropy(mu, s), 0.5 * np.log(2 * math.pi * math.e) + math.log(2), atol=1e-8
    )


def test_mutual_information_is_zero_when_draws_agree_and_grows_with_disagreement() -> None:
    s = np.full((4, 3), 0.5)
    mu = np.zeros((4, 3))
    np.testing.assert_allclose(mutual_information(mu, s), 0.0, atol=1e-10)
    spread = np.array([0.0, 0.5, 2.0])
    mu = np.outer(np.array([-1.0, -0.3, 0.3, 1.0]), spread)
    info = mutual_information(mu, s)
    assert info[0] < 1e-10 < info[1] < info[2]
    assert info[2] <= math.log(4) + 1e-9  # at most log K for K draws
