"""The model's botorch face: posteriors in both layouts, fantasies, acquisition and optimize_acqf."""

from __future__ import annotations

import torch
from botorch.acquisition import PosteriorStandardDeviation
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from botorch.acquisition.objective import ScalarizedPosteriorTransform
from botorch.optim import optimize_acqf


def test_posterior_layouts_agree(fitted):
    gp = fitted["lmc"].gp
    X = torch.rand(5, 2, dtype=torch.float64)
    all_tasks = gp.posterior(X)
    assert all_tasks.mean.shape == (5, 2)
    for task in range(2):
        one = gp.posterior(torch.cat([X, torch.full((5, 1), float(task))], -1))
        torch.testing.assert_close(one.mean.squeeze(-1), all_tasks.mean[:, task], rtol=0, atol=1e-10)
        torch.testing.assert_close(
            one.variance.squeeze(-1), all_tasks.variance[:, task], rtol=1e-9, atol=1e-12
        )


def test_fantasy_reduces_variance_where_observed(fitted):
    gp = fitted["lmc"].gp
    x = torch.tensor([[0.3, 0.7, 1.0]], dtype=torch.float64)
    before = gp.posterior(x).variance
    fantasy = gp.condition_on_observations(x, torch.zeros(1, 1, dtype=torch.float64))
    after = fantasy.posterior(x).variance
    assert after < before
    # Sharing: observing task 1 also informs task 0 at the same condition.
    x0 = x.clone()
    x0[..., -1] = 0.0
    assert fantasy.posterior(x0).variance < gp.posterior(x0).variance


def test_integrated_variance_and_optimize_acqf_run_on_the_model(fitted):
    gp = fitted["lmc"].gp
    mc_points = torch.rand(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    weights = ScalarizedPosteriorTransform(torch.tensor([0.5, 0.5], dtype=torch.float64))
    acq = qNegIntegratedPosteriorVariance(gp, mc_points=mc_points, posterior_transform=weights)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    candidate, value = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=2, raw_samples=32)
    assert candidate.shape == (1, 2)
    assert torch.isfinite(value)
    # A point chosen to reduce integrated variance beats a corner of the domain.
    assert value >= acq(torch.ones(1, 1, 2, dtype=torch.float64)).squeeze()
    std = PosteriorStandardDeviation(gp, posterior_transform=weights)
    assert torch.isfinite(std(candidate.unsqueeze(0))).all()


def test_integrated_variance_gradient_matches_finite_differences(fitted):
    """Gradients must flow through the fantasy model's caches (a detached cache gave 4x errors)."""
    gp = fitted["lmc"].gp
    mc_points = torch.rand(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    weights = ScalarizedPosteriorTransform(torch.tensor([0.5, 0.5], dtype=torch.float64))
    acq = qNegIntegratedPosteriorVariance(gp, mc_points=mc_points, posterior_transform=weights)
    x = torch.tensor([[[0.3, 0.6]]], dtype=torch.float64, requires_grad=True)
    acq(x).backward()
    eps = 1e-6
    for i in range(2):
        step = torch.zeros_like(x)
        step[..., i] = eps
        with torch.no_grad():
            fd = (acq(x + step) - acq(x - step)) / (2 * eps)
        # Central differences of a smooth float64 function: error ~eps^2 plus rounding ~1e-10/eps.
        assert abs(float(x.grad[..., i]) - float(fd)) < 1e-6 + 1e-4 * abs(float(fd))
