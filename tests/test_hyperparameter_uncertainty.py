"""The Laplace (delta-method) term for hyperparameter uncertainty in MAP predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.fitting import neg_log_posterior
from mtgp_kinetics.hyperparameter_uncertainty import MIN_CURVATURE, HyperparameterUncertainty


@pytest.fixture(scope="module")
def small(analytic_problem) -> mk.KineticsModel:
    """Few observations, so the hyperparameters are uncertain and the term is visible."""
    data = mk.Dataset.from_frame(
        analytic_problem.sample(12, seed=4), analytic_problem.space, analytic_problem.tasks
    )
    return mk.fit(data, kernel="independent", restarts=1)


@pytest.fixture(scope="module")
def points(analytic_problem):
    return analytic_problem.space.sample(25, seed=9)


def _objective_at(laplace: HyperparameterUncertainty, u: torch.Tensor) -> float:
    laplace._assign(u)
    n = laplace.gp.train_targets.shape[-1]
    with torch.no_grad():
        return float(n * neg_log_posterior(laplace.gp))


def test_mean_unchanged_and_variance_only_grows(small, points):
    plain = small.predict(points, hyperparameter_uncertainty=False)
    full = small.predict(points)
    # Same posterior mean code path: equal to round-off.
    np.testing.assert_allclose(full["transformed_mean"], plain["transformed_mean"], rtol=0, atol=1e-12)
    assert (full["transformed_std"] >= plain["transformed_std"] - 1e-12).all()
    # With 12 observations the term matters somewhere (a test that could not fail otherwise).
    assert (full["transformed_std"] / plain["transformed_std"]).max() > 1.05


def test_hessian_matches_second_differences_of_the_objective(small):
    laplace = small.hyperparameter_uncertainty()
    S = laplace.directions
    eigval = torch.linalg.eigvalsh(torch.linalg.inv(S.T @ S))
    assert float(eigval.min()) > MIN_CURVATURE  # no floored direction here, so Sigma^-1 = H
    hessian = torch.linalg.inv(S.T @ S)
    # H from function values only (the module differentiates autograd gradients instead).
    p, h = laplace.u_star.numel(), 1e-3
    values = torch.zeros(p, p, dtype=torch.float64)
    u = laplace.u_star
    try:
        for i in range(p):
            for j in range(p):
                ei = torch.zeros(p, dtype=torch.float64)
                ej = torch.zeros(p, dtype=torch.float64)
                ei[i], ej[j] = h, h
                values[i, j] = (
                    _objective_at(laplace, u + ei + ej)
                    - _objective_at(laplace, u + ei - ej)
                    - _objective_at(laplace, u - ei + ej)
                    + _objective_at(laplace, u - ei - ej)
                ) / (4 * h * h)
    finally:
        laplace._restore()
    # Both are O(h^2) accurate; the second differences of values also lose ~1e-16 / h^2 to
    # round-off, so agreement to 1e-3 of the largest curvature is what to expect.
    scale = float(hessian.abs().max())
    torch.testing.assert_close(values, hessian, rtol=0, atol=1e-3 * scale)


def test_added_variance_is_the_spread_of_means_over_the_laplace_posterior(small, points):
    """Monte Carlo over u ~ N(u*, eps Sigma) (small eps: the linear regime) against eps diag(D^T D)."""
    laplace = small.hyperparameter_uncertainty()
    X = small._model_inputs(points, list(range(small.num_tasks)))
    D = small._hyperparameter_sensitivities(X)  # p x N, modelled units
    added = (D**2).sum(0)
    eps = 1e-4
    generator = torch.Generator().manual_seed(0)
    draws = 500
    z = torch.randn(draws, laplace.directions.shape[0], generator=generator, dtype=torch.float64)
    scale = small.y_std[X[:, -1].round().long()]
    means = []
    try:
        for row in z:
            laplace._assign(laplace.u_star + np.sqrt(eps) * (row @ laplace.directions))
            means.append(small._posterior_means(X) * scale)
    finally:
        laplace._restore()
    spread = torch.stack(means).var(0)
    # The MC variance of a variance from 500 Gaussian draws has relative sd sqrt(2 / 500) = 6.3 %:
    # 30 % per point is 4.7 sd, and the median ratio (pooled over points) within 6 %; the
    # linearization error at eps = 1e-4 is far smaller.
    big = added > 1e-3 * added.max()
    ratio = spread[big] / eps / added[big]
    assert float((ratio - 1).abs().max()) < 0.3
    assert abs(float(ratio.median()) - 1) < 0.06


def test_joint_covariance_carries_the_same_term(small, points):
    pred = small.predict(points)
    _, _, cov = small.predict_joint(points)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), pred["transformed_std"], rtol=1e-7)
    _, _, plain = small.predict_joint(points, hyperparameter_uncertainty=False)
    difference = cov - plain
    # A rank-p positive semi-definite addition.
    p = small.hyperparameter_uncertainty().directions.shape[0]
    eigval = np.linalg.eigvalsh(difference)
    assert eigval.min() > -1e-10 * eigval.max()
    assert (eigval > 1e-10 * eigval.max()).sum() <= p


def test_recomputed_after_the_hyperparameters_change(analytic_problem):
    data = mk.Dataset.from_frame(
        analytic_problem.sample(10, seed=5), analytic_problem.space, analytic_problem.tasks
    )
    model = mk.fit(data, kernel="independent", restarts=1)
    first = model.hyperparameter_uncertainty()
    assert model.hyperparameter_uncertainty() is first  # cached
    with torch.no_grad():
        next(p for name, p in model.gp.named_parameters() if name.endswith("raw_noise")).mul_(1.5)
    second = model.hyperparameter_uncertainty()
    assert second is not first
    assert not torch.equal(second.u_star, first.u_star)
