"""An ICM model recovers the known task correlation of the analytic problem."""

from __future__ import annotations

import numpy as np
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.problems import AnalyticKinetics


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.8, -0.6])
def test_icm_recovers_the_analytic_task_correlation(rho):
    estimates = []
    for seed in range(5):
        problem = AnalyticKinetics(
            n_tasks=2, loadings=[[1.0, 0.0], [rho, (1 - rho**2) ** 0.5]], lengthscales=(0.2, 0.2), seed=seed
        )
        assert problem.true_task_correlation.loc["log_k", "f_a"] == pytest.approx(rho, abs=1e-9)
        frame = problem.sample(60, seed=seed, observed_fraction={"f_a": 0.6})
        model = mk.fit(mk.Dataset.from_frame(frame, problem.space, problem.tasks), kernel="icm", restarts=2)
        estimates.append(model.task_correlation().loc["log_k", "f_a"])
    # One realization of the latent functions per seed: measured over 10 seeds at this size
    # (60 + 36 observations, lengthscale 0.2) the estimate scatters with sd 0.09 around the truth
    # (medians 0.805 and -0.594). The median of 5 seeds has sd ~0.05: 0.12 is over two of those.
    assert np.median(estimates) == pytest.approx(rho, abs=0.12)
    # Every single estimate has the right sign and is within ~3 sd.
    assert all(np.sign(e) == np.sign(rho) and abs(e - rho) < 0.3 for e in estimates)
