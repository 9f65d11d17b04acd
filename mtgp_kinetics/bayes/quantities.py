"""The named, identifiable quantities reported for each posterior draw.

The sampler's coordinates are not what anyone wants to read; each draw is summarized as

* ``lengthscale[latent, dim]``: Matern lengthscale of each latent process over each continuous
  condition (normalized transformed units: a fraction of the 1000/T range, ...);
* ``categorical_lengthscale[latent, categorical]``: where the space has categorical conditions;
* ``rotation[rotated_latent, plane]``: for latent processes whose rotated axes are sampled
  (:class:`~mtgp_kinetics.models.rotated_kernel.RotatedMaternKernel`; the default sampler holds
  them at MAP), the generator entry of each pair of continuous conditions;
* ``latent_variance[latent, task]``: ``B_q[t, t]``, how much of latent process ``q`` task ``t`` carries
  (standardized units);
* ``task_covariance[task, task_]`` and ``task_correlation[task, task_]``: the tasks at one condition
  (``sum_q B_q``), as :meth:`~mtgp_kinetics.KineticsModel.task_correlation`;
* ``noise_std[task]``: noise std of a new measurement (transformed units, e.g. log10 s);
* ``mean_constant[task]`` (and ``mean_slope[task, dim]`` with the linear mean): in transformed units.
"""

from __future__ import annotations

import numpy as np
import torch
from botorch.models.kernels.categorical import CategoricalKernel
from gpytorch.kernels import MaternKernel

from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.models.rotated_kernel import RotatedMaternKernel


def _rotated_kernels(model: KineticsModel) -> list[tuple[int, RotatedMaternKernel]]:
    """``(latent index, kernel)`` of every latent process whose rotated axes are sampled.

    NUTS holds rotations at their MAP values
    (:func:`~mtgp_kinetics.bayes.coordinates.use_sampling_priors`); a held rotation is the same in
    every draw and is not reported (its R-hat would be undefined).
    """
    return [
        (q, module)
        for q, kernel in enumerate(model.gp.covar_module.input_kernels)
        for module in kernel.modules()
        if isinstance(module, RotatedMaternKernel) and module.raw_rotation.requires_grad
    ]


#: Quantity name -> its dimension names (after ``chain``, ``draw``).
DIMS: dict[str, tuple[str, ...]] = {
    "lengthscale": ("latent", "dim"),
    "categorical_lengthscale": ("latent", "categorical"),
    "rotation": ("rotated_latent", "plane"),
    "latent_variance": ("latent", "task"),
    "task_covariance": ("task", "task_"),
    "task_correlation": ("task", "task_"),
    "noise_std": ("task",),
    "mean_constant": ("task",),
    "mean_slope": ("task", "dim"),
}


def coordinates_of(model: KineticsModel) -> dict[str, list]:
    """Coordinate labels of every dimension in :data:`DIMS` for ``model``."""
    space = model.space
    names = [space.names[i] for i in space.continuous_dims]
    return {
        "latent": list(range(model.gp.covar_module.num_latents)),
        "rotated_latent": [q for q, _ in _rotated_kernels(model)],
        "plane": [f"{a}-{b}" for i, a in enumerate(names) for b in names[i + 1 :]],
        "dim": names,
        "categorical": [space.names[i] for i in space.categorical_dims],
        "task": model.task_names,
        "task_": model.task_names,
    }


def quantities(model: KineticsModel) -> dict[str, np.ndarray]:
    """The quantities of :data:`DIMS` at the model's current hyperparameters (arrays by dims)."""
    gp = model.gp
    covar = gp.covar_module
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        continuous, categorical = [], []
        for kernel in covar.input_kernels:
            for module in kernel.modules():
                if isinstance(module, MaternKernel):
                    continuous.append(module.lengthscale.reshape(-1).numpy().copy())
                elif isinstance(module, CategoricalKernel):
                    categorical.append(module.lengthscale.reshape(-1).numpy().copy())
        if continuous:
            out["lengthscale"] = np.stack(continuous)
        if categorical:
            out["categorical_lengthscale"] = np.stack(categorical)
        rotated = _rotated_kernels(model)
        if rotated:
            out["rotation"] = np.stack([k.raw_rotation.numpy().copy() for _, k in rotated])
        latents = covar.latent_matrices()
        out["latent_variance"] = np.stack([torch.diagonal(B).numpy() for B in latents])
        B = torch.stack(latents).sum(0).numpy()
        out["task_covariance"] = B.copy()
        sd = np.sqrt(np.diag(B))
        corr = B / np.outer(sd, sd)
        np.fill_diagonal(corr, 1.0)
        out["task_correlation"] = corr
        y_std = model.y_std.numpy()
        out["noise_std"] = np.sqrt(gp.likelihood.noise_covar.per_task_variance().numpy()) * y_std
        mean = gp.mean_module
        out["mean_constant"] = mean.constant.numpy() * y_std + model.y_mean.numpy()
        if mean.slope_dims:
            out["mean_slope"] = mean.slopes.numpy() * y_std[:, None]
    return out
