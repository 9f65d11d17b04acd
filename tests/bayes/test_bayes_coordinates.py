"""The sampler's coordinates: the MAP objective, its Jacobians, exact gradients, and a lossless round trip."""

from __future__ import annotations

import numpy as np
import torch
from gpytorch.kernels import MaternKernel

import mtgp_kinetics as mk
from mtgp_kinetics.bayes.coordinates import Coordinates
from mtgp_kinetics.bayes.fit import sampling_model
from mtgp_kinetics.fitting import neg_log_posterior
from mtgp_kinetics.models.priors import (
    continuous_lengthscale_prior,
    noise_prior,
    sampling_lengthscale_prior,
    sampling_noise_prior,
)


def _coords(model: mk.KineticsModel) -> tuple[mk.KineticsModel, Coordinates]:
    base = sampling_model(model)
    return base, Coordinates(base.gp)


def test_sampling_model_keeps_the_map_point(fitted: dict[str, mk.KineticsModel]) -> None:
    for name in ("icm", "lmc"):
        base, _ = _coords(fitted[name])
        # B is rebuilt as chol(B - 1e-6 I) L^T + 1e-6 I: equal up to rounding (float64).
        np.testing.assert_allclose(
            base.task_covariance().to_numpy(), fitted[name].task_covariance().to_numpy(), rtol=1e-7, atol=1e-8
        )
        noise = base.gp.likelihood.noise_covar
        probe = torch.tensor([1e-4, 1e-2])
        torch.testing.assert_close(noise.noise_prior.log_prob(probe), sampling_noise_prior().log_prob(probe))
        noise.set_noise_prior(noise_prior())  # the MAP objective again: same point, same value
        for module in base.gp.modules():
            if isinstance(module, MaternKernel):
                torch.testing.assert_close(
                    module.lengthscale_prior.log_prob(probe), sampling_lengthscale_prior().log_prob(probe)
                )
                _, closure, setting = module._priors["lengthscale_prior"]
                map_prior = continuous_lengthscale_prior(module.ard_num_dims)
                module.register_prior("lengthscale_prior", map_prior, closure, setting)
        with torch.no_grad():
            assert abs(float(neg_log_posterior(base.gp)) - float(neg_log_posterior(fitted[name].gp))) < 1e-7


def test_round_trip_and_potential(fitted: dict[str, mk.KineticsModel]) -> None:
    base, coords = _coords(fitted["icm"])
    u = coords.current()
    coords.assign(u + 0.1)
    coords.assign(u)
    torch.testing.assert_close(coords.current(), u, rtol=0, atol=1e-12)
    value, _ = coords.value_and_grad(u)
    n = base.gp.train_targets.shape[-1]
    with torch.no_grad():
        expected = n * float(neg_log_posterior(base.gp)) - float(coords.log_jacobian(u))
    assert abs(value - expected) < 1e-9


def test_gradient_matches_finite_differences(fitted: dict[str, mk.KineticsModel]) -> None:
    for name in ("icm", "lmc"):
        _, coords = _coords(fitted[name])
        u = coords.current() + 0.05 * torch.randn(coords.dim, dtype=torch.float64)
        _, grad = coords.value_and_grad(u)
        eps = 1e-6
        numeric = torch.tensor(
            [
                (coords.value_and_grad(u + eps * e)[0] - coords.value_and_grad(u - eps * e)[0]) / (2 * eps)
                for e in torch.eye(coords.dim, dtype=torch.float64)
            ],
            dtype=torch.float64,
        )
        # Central differences of a float64 objective of size ~10-100: error ~1e-6 relative.
        torch.testing.assert_close(grad, numeric, rtol=1e-4, atol=1e-5)


def test_potential_is_differentiable_by_autograd(fitted: dict[str, mk.KineticsModel]) -> None:
    _, coords = _coords(fitted["icm"])
    u = coords.current().requires_grad_(True)
    (grad,) = torch.autograd.grad(coords.potential(u), u)
    torch.testing.assert_close(grad, coords.value_and_grad(u.detach())[1])


def test_chains_in_processes_equal_chains_in_sequence(analytic_data: mk.Dataset) -> None:
    import warnings

    from mtgp_kinetics.bayes import NutsSettings, fit_nuts

    draws = {}
    for workers in (1, 2):
        settings = NutsSettings(num_warmup=8, num_samples=8, num_chains=2, max_tree_depth=4, workers=workers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mk.ConvergenceWarning)  # 8 draws: not the point here
            draws[workers] = fit_nuts(
                analytic_data, "icm", restarts=1, settings=settings, progress=False
            ).draws
    np.testing.assert_array_equal(draws[1].z, draws[2].z)
    np.testing.assert_array_equal(draws[1].stats["energy"], draws[2].stats["energy"])


def test_every_coordinate_of_a_known_noise_model_has_a_proper_density() -> None:
    """A task with known measurement stds leaves its learned-noise entry unused; NUTS still samples it.

    Without a prior that coordinate's potential fell by exactly 1 per unit (only the log-Jacobian
    of u = log(theta - b) was left), the chains drifted to u ~ 1e4 and hit their tree-depth cap (a
    helper's sweep: 100 s for 12 points). Every coordinate's potential must rise far out.
    """
    import pandas as pd

    T = np.linspace(400.0, 1400.0, 12)
    k = 1e-12 * np.exp(-2000.0 / T) * np.exp(0.1 * np.random.default_rng(0).standard_normal(12))
    frame = pd.DataFrame({"T": T, "k": k, "k_std": 0.1 * k})
    space = mk.Space([mk.Continuous("T", 300.0, 1500.0, unit="K", transform="inverse")])
    task = mk.Task("k", unit="cm3/s", transform="log10", kind="rate", noise_column="k_std")
    model = mk.fit(mk.Dataset.from_frame(frame, space, [task]), "independent", restarts=1)
    _, coords = _coords(model)
    u = coords.current()
    at_mode, _ = coords.value_and_grad(u)
    for j, name in enumerate(coords.names):
        for step in (-15.0, 15.0):
            far = u.clone()
            far[j] += step
            value, _ = coords.value_and_grad(far)
            assert value > at_mode + 5.0, (name, step, value, at_mode)
