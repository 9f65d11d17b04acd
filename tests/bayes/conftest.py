"""A small NUTS fit shared by the Bayesian tests (short chains: these tests check plumbing and
identities, not convergence; the convergence figures are in benchmarks/bayes_vs_map.py)."""

from __future__ import annotations

import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.bayes import BayesianKineticsModel


@pytest.fixture(scope="module")
def nuts_model(analytic_data: mk.Dataset) -> BayesianKineticsModel:
    """ICM on the analytic data, 2 chains x (30 warm-up + 30 draws); predictions mix 16 draws."""
    with pytest.warns(mk.ConvergenceWarning):  # chains this short are not expected to converge
        model = mk.fit(
            analytic_data,
            "icm",
            method="nuts",
            restarts=2,
            num_warmup=30,
            num_samples=30,
            num_chains=2,
            progress=False,
        )
    model.max_predictive_draws = 16
    return model
