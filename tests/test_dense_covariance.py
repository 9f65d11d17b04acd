"""The fast training covariance used by MAP fits equals the kernel module's covariance."""

from __future__ import annotations

import gpytorch
import numpy as np
import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.fitting import neg_log_posterior
from mtgp_kinetics.models.dense_covariance import TrainingCovariance
from mtgp_kinetics.models.structure import KernelSpec, LatentSpec, kernel_spec


def _mixed_data() -> mk.Dataset:
    """Two continuous and one categorical condition, heterotopic."""
    space = mk.Space(
        [
            mk.Continuous("T", 900, 1500, unit="K", transform="inverse"),
            mk.Continuous("P", 0.5, 20, unit="atm", transform="log"),
            mk.Categorical("bath", ["Ar", "N2", "He"]),
        ]
    )
    tasks = [mk.Task("k", transform="log10", kind="rate"), mk.Task("f", transform="logit", kind="mechanism")]
    rng = np.random.default_rng(3)
    n = 18
    frame = pd.DataFrame(
        {
            "T": rng.uniform(900, 1500, n),
            "P": np.exp(rng.uniform(np.log(0.5), np.log(20), n)),
            "bath": rng.choice(["Ar", "N2", "He"], n),
        }
    )
    frame["k"] = 10 ** (13 - 2000 / frame["T"] + 0.1 * rng.standard_normal(n))
    frame["f"] = 1 / (1 + np.exp(-(frame["T"] - 1200) / 200))
    frame.loc[::3, "f"] = np.nan
    return mk.Dataset.from_frame(frame, space, tasks)


def _randomize(gp: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in gp.named_parameters():
            if "lengthscale" in name or "kappa" in name or "outputscale" in name:
                param.copy_(0.1 + torch.rand(param.shape, generator=generator, dtype=param.dtype))
            elif name.endswith(".W"):
                param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype))
            elif name.endswith("raw_rotation"):
                param.copy_(0.7 * torch.randn(param.shape, generator=generator, dtype=param.dtype))


def _reference_objective(gp: torch.nn.Module) -> torch.Tensor:
    """The MAP objective through gpytorch: the kernel module's covariance and its marginal likelihood."""
    X, y = gp.train_inputs[0], gp.train_targets
    gp.train()
    prior = gp.likelihood(
        gpytorch.distributions.MultivariateNormal(gp.mean_module(X), gp.covar_module.forward(X, X)), X
    )
    log_prior = sum(p.log_prob(closure(m)).sum() for _, m, p, closure, _ in gp.named_priors())
    return -(prior.log_prob(y) + log_prior) / y.shape[-1]


SPECS = {
    "icm": kernel_spec("icm"),
    "lmc": kernel_spec("lmc"),
    "independent": kernel_spec("independent"),
    "shared+private": kernel_spec("shared+private"),
    "opted-out, rough": KernelSpec(
        "custom", (LatentSpec("shared", 1, nu=1.5, members=(0,)), LatentSpec(0, nu=0.5), LatentSpec(1))
    ),
    "rotated independent": KernelSpec(
        "independent", (LatentSpec(0, rotated=True), LatentSpec(1, nu=1.5, rotated=True))
    ),
    "rotated shared and private, opted out": KernelSpec(
        "custom",
        (LatentSpec("shared", 1, members=(0,), rotated=True), LatentSpec(0, rotated=True), LatentSpec(1)),
    ),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_training_covariance_equals_kernel_forward(analytic_data, name):
    for data in (analytic_data, _mixed_data()):
        gp = mk.KineticsModel.from_dataset(data, SPECS[name]).gp
        _randomize(gp, seed=len(name))
        X = gp.train_inputs[0]
        fast = TrainingCovariance(gp.covar_module, X)
        with torch.no_grad():
            reference = gp.covar_module.forward(X, X)
            # Same float64 formulas; only the order of the distance computation differs.
            torch.testing.assert_close(fast(), reference, rtol=0, atol=1e-12)
            assert abs(float(neg_log_posterior(gp, fast)) - float(_reference_objective(gp))) < 1e-10


@pytest.mark.parametrize("name", ["shared+private", "rotated shared and private, opted out"])
def test_training_covariance_gradients_match(analytic_data, name):
    gp = mk.KineticsModel.from_dataset(analytic_data, SPECS[name]).gp
    _randomize(gp, seed=1)
    fast = TrainingCovariance(gp.covar_module, gp.train_inputs[0])
    grads = []
    for objective in (lambda: neg_log_posterior(gp, fast), lambda: _reference_objective(gp)):
        gp.zero_grad()
        objective().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in gp.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-8, atol=1e-10)


def _three_task_data() -> mk.Dataset:
    """Three tasks, rows interleaved, the middle task observed at a third of the conditions."""
    space = mk.Space([mk.Continuous("T", 900, 1500, unit="K", transform="inverse")])
    tasks = [mk.Task(name, kind="rate") for name in ("a", "b", "c")]
    rng = np.random.default_rng(5)
    n = 15
    T = rng.uniform(900, 1500, n)
    frame = pd.DataFrame({"T": T, "a": np.sin(T / 100), "b": np.cos(T / 150), "c": T / 1000})
    frame.loc[frame.index % 3 != 0, "b"] = np.nan
    return mk.Dataset.from_frame(frame, space, tasks)


def test_training_covariance_with_a_scattered_shared_block():
    # Tasks 0 and 2 share a process; in task order their observations are not contiguous, so the
    # shared block is scattered into place rather than padded (the index path).
    spec = KernelSpec(
        "custom", (LatentSpec("shared", 1, members=(0, 2)), LatentSpec(0), LatentSpec(1), LatentSpec(2))
    )
    gp = mk.KineticsModel.from_dataset(_three_task_data(), spec).gp
    _randomize(gp, seed=2)
    X = gp.train_inputs[0]
    fast = TrainingCovariance(gp.covar_module, X)
    assert not isinstance(fast._latents[0].rows, slice | type(None))
    with torch.no_grad():
        torch.testing.assert_close(fast(), gp.covar_module.forward(X, X), rtol=0, atol=1e-12)
    grads = []
    for objective in (lambda: neg_log_posterior(gp, fast), lambda: _reference_objective(gp)):
        gp.zero_grad()
        objective().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in gp.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-8, atol=1e-10)
