"""``fit(data, kernel, method="nuts")``: MAP first, then NUTS over all hyperparameters from there.

1. MAP fit of the requested structure (``kernel=None``: the default model's choice of structure,
   :func:`~mtgp_kinetics.default_model.fit_default`), as :func:`mtgp_kinetics.fit` does.
2. The same structure with full-rank task covariances (``rank`` = member tasks, ``kappa`` at its
   bound) holding the same ``B``: the sampler's coordinates (:mod:`~mtgp_kinetics.bayes.coordinates`),
   and the sampling priors (broader noise and tighter lengthscale priors than MAP's,
   :func:`~mtgp_kinetics.bayes.coordinates.use_sampling_priors`).
   For two tasks, rank-1-plus-diagonal and full rank describe the same matrices.
3. NUTS from around the MAP point (:func:`~mtgp_kinetics.bayes.sampler.run_nuts`).
4. A :class:`~mtgp_kinetics.bayes.model.BayesianKineticsModel`; its diagnostics warn
   (:class:`~mtgp_kinetics.ConvergenceWarning`) when the chains did not converge.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch

from mtgp_kinetics.bayes.coordinates import Coordinates, set_cholesky, use_sampling_priors
from mtgp_kinetics.bayes.model import MAX_PREDICTIVE_DRAWS, BayesianKineticsModel
from mtgp_kinetics.bayes.sampler import NutsSettings, run_nuts
from mtgp_kinetics.default_model import fit_default
from mtgp_kinetics.fitting import fit_map
from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.models.structure import KernelSpec, kernel_spec
from mtgp_kinetics.models.task_covariance import LowRankTaskCovariance

if TYPE_CHECKING:
    from mtgp_kinetics.dataset import Dataset


def full_rank_spec(spec: KernelSpec, num_tasks: int) -> KernelSpec:
    """``spec`` with every shared process of rank = its number of member tasks (latents explicit)."""
    latents = []
    for lat in spec.resolve(num_tasks):
        if lat.tasks == "shared":
            members = num_tasks if lat.members is None else len(lat.members)
            lat = dataclasses.replace(lat, rank=members)
        latents.append(lat)
    return KernelSpec(spec.name, tuple(latents), len(latents) if spec.name == "lmc" else None)


def sampling_model(fitted: KineticsModel) -> KineticsModel:
    """A copy of a fitted model in the sampler's parametrization, with the same hyperparameters."""
    spec = full_rank_spec(fitted.kernel, fitted.num_tasks)
    model = KineticsModel(
        fitted.space,
        fitted.tasks,
        spec,
        fitted.train_inputs,
        fitted.train_targets,
        fitted.known_variance,
        data=fitted.data,
        mean=fitted.mean,
    )
    state = model.gp.state_dict()
    for key, value in fitted.gp.state_dict().items():
        if not key.endswith(".W"):
            state[key] = value
    model.gp.load_state_dict(state)
    old = [m for m in fitted.gp.modules() if isinstance(m, LowRankTaskCovariance)]
    new = [m for m in model.gp.modules() if isinstance(m, LowRankTaskCovariance)]
    for source, target in zip(old, new, strict=True):
        with torch.no_grad():
            set_cholesky(target, source.member_block())
    use_sampling_priors(model.gp)
    model.fit_result_ = fitted.fit_result_
    model.gp.eval()
    return model


def fit_nuts(
    data: Dataset,
    kernel: str | KernelSpec | None = None,
    *,
    mean: str = "constant",
    restarts: int = 4,
    max_iter: int = 300,
    seed: int = 0,
    settings: NutsSettings | None = None,
    progress: bool = True,
    max_predictive_draws: int = MAX_PREDICTIVE_DRAWS,
) -> BayesianKineticsModel:
    """Fit by NUTS over the hyperparameters, started from the MAP fit.

    Parameters
    ----------
    data : Dataset
        The data.
    kernel : str or KernelSpec, optional
        Structure (``None``: the default model's choice, made by MAP).
    mean : {"constant", "linear"}
        Per-task mean.
    restarts, max_iter : int
        MAP settings of the starting fit.
    seed : int
        Seed of the MAP starts and of the chains (chain ``c``: ``seed + c``).
    settings : NutsSettings, optional
        Warm-up, draws, chains (default :class:`NutsSettings()`).
    progress : bool
        tqdm progress bar per chain.
    max_predictive_draws : int
        Draws mixed in predictions.

    Returns
    -------
    BayesianKineticsModel
        The model; ``model.diagnostics()`` has been checked (a ConvergenceWarning was raised if needed).
    """
    settings = (settings or NutsSettings()).validate()
    if kernel is None:
        fitted = fit_default(data, restarts=restarts, max_iter=max_iter, seed=seed, mean=mean)
    else:
        fitted = KineticsModel.from_dataset(data, kernel_spec(kernel), mean)
        fitted.fit_result_ = fit_map(fitted.gp, restarts=restarts, max_iter=max_iter, seed=seed)
    base = sampling_model(fitted)
    draws = run_nuts(Coordinates(base.gp), settings, seed=seed, progress=progress)
    model = BayesianKineticsModel(base, draws, max_predictive_draws)
    model.diagnostics(warn=True)
    return model
