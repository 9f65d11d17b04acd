"""The independent-task model agrees with hand-written botorch SingleTaskGPs (same kernel and priors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.constraints import GreaterThan, Positive
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import NormalPrior

from mtgp_kinetics.models import priors


def reference_gp(X: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
    """A botorch SingleTaskGP with the kernel, priors and bounds mtgp_kinetics documents."""
    ls_prior = priors.continuous_lengthscale_prior(X.shape[-1])
    covar = ScaleKernel(
        MaternKernel(
            nu=2.5,
            ard_num_dims=X.shape[-1],
            lengthscale_prior=ls_prior,
            lengthscale_constraint=GreaterThan(
                priors.MIN_LENGTHSCALE, transform=None, initial_value=ls_prior.mode
            ),
        ),
        outputscale_prior=priors.outputscale_prior(),
        outputscale_constraint=Positive(),
    )
    noise_prior = priors.noise_prior()
    likelihood = GaussianLikelihood(
        noise_prior=noise_prior,
        noise_constraint=GreaterThan(
            priors.MIN_NOISE_VARIANCE, transform=None, initial_value=noise_prior.mode
        ),
    )
    mean = ConstantMean(constant_prior=NormalPrior(0.0, 1.0))  # Normal(0, 1) on the standardized constant
    model_parts = {"likelihood": likelihood, "covar_module": covar, "mean_module": mean}
    return SingleTaskGP(X, y.unsqueeze(-1), **model_parts, outcome_transform=None)


def per_task_training_data(model, task: int) -> tuple[torch.Tensor, torch.Tensor]:
    X = model.gp.train_inputs[0]
    rows = X[:, -1].round().long() == task
    return X[rows, :-1], model.gp.train_targets[rows]


def copy_hyperparameters(model, task: int, ref: SingleTaskGP) -> None:
    covar = model.gp.covar_module
    ref.covar_module.base_kernel.lengthscale = covar.input_kernels[task].lengthscale.detach()
    ref.covar_module.outputscale = covar.task_covariances[task].outputscale.detach()
    ref.likelihood.noise = model.gp.likelihood.noise_covar.noise[task].detach()
    ref.mean_module.constant.data.fill_(float(model.gp.mean_module.constant[task].detach()))


def map_objective(gp: SingleTaskGP) -> float:
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    gp.train()
    with torch.no_grad():
        value = -mll(gp(*gp.train_inputs), gp.train_targets, *gp.train_inputs)
    gp.eval()
    return float(value)


@pytest.mark.parametrize("task", [0, 1])
def test_same_hyperparameters_give_identical_posteriors(fitted, task):
    model = fitted["independent"]
    X, y = per_task_training_data(model, task)
    ref = reference_gp(X, y)
    copy_hyperparameters(model, task, ref)
    ref.eval()
    X_test = torch.rand(16, X.shape[-1], dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ours = model.gp.posterior(torch.cat([X_test, torch.full((16, 1), float(task))], -1))
    theirs = ref.posterior(X_test)
    # Same float64 algebra, different factorization order: agreement to ~1e-10.
    torch.testing.assert_close(ours.mean, theirs.mean, rtol=0, atol=1e-8)
    torch.testing.assert_close(ours.variance, theirs.variance, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("task", [0, 1])
def test_map_fit_reaches_the_botorch_optimum(fitted, task):
    model = fitted["independent"]
    X, y = per_task_training_data(model, task)
    theirs = reference_gp(X, y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(theirs.likelihood, theirs))
    ours = reference_gp(X, y)
    copy_hyperparameters(model, task, ours)
    # The joint independent objective separates by task, so our optimum is botorch's per task.
    # Both optimizers stop at relative tolerance ~1e-9 of an O(1) objective: 1e-4 is generous.
    assert map_objective(ours) <= map_objective(theirs) + 1e-4
    X_test = torch.rand(32, X.shape[-1], dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        a, b = ours.posterior(X_test), theirs.posterior(X_test)
    sd = b.variance.sqrt()
    # Equal optima up to optimizer tolerance: means within 2 % of a posterior std, stds within 5 %.
    assert float(((a.mean - b.mean).abs() / sd).max()) < 0.02
    np.testing.assert_allclose(a.variance.sqrt().numpy(), sd.numpy(), rtol=0.05)
