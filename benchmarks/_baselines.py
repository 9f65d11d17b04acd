"""Hand-written botorch baselines for ``fit_predict.py``: botorch's own defaults, our data.

Both baselines take the same ``n x (d + 1)`` inputs as :class:`mtgp_kinetics.KineticsModel`
(``Dataset.train_inputs()``: normalized conditions in [0, 1], task index last; categorical
conditions one-hot, :func:`hand_written_inputs`) and the same ``n``
transformed targets (``Dataset.train_targets()``), standardize each task by its own mean and std
(what our model does, and what botorch's docs ask for multi-task data) and are fitted with
``botorch.fit.fit_gpytorch_mll``. Kernels, priors and likelihoods are botorch's defaults:

* :class:`BotorchMultiTaskGP`: ``MultiTaskGP`` (ICM): one RBF input kernel with the dimension-scaled
  lengthscale prior, a full-rank ``PositiveIndexKernel`` over tasks, one learned noise per task.
* :class:`BotorchSingleTaskGPs`: one ``SingleTaskGP`` per task on that task's rows only.

Predictions are the latent (noise-free) Gaussian in each task's modelled space, as ``n x t`` means
and standard deviations, to be compared with ``KineticsModel.predict``'s ``transformed_mean`` and
``transformed_std``.
"""

from __future__ import annotations

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MultiTaskGP, SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from mtgp_kinetics.space import Categorical, Space


def hand_written_inputs(space: Space, X: torch.Tensor) -> torch.Tensor:
    """``n x d`` model inputs (``Space.to_model``) as a hand-written botorch user would give them.

    Continuous columns are in [0, 1] already; each categorical column (level codes 0..L-1) becomes
    ``L`` one-hot columns, the usual encoding for a botorch model without a categorical kernel
    (the codes themselves would be read as an ordered, continuous input outside the unit cube).
    Without categorical conditions ``X`` is returned as it is.
    """
    columns = []
    for i, variable in enumerate(space.variables):
        if isinstance(variable, Categorical):
            codes = X[:, i].round().long()
            columns.append(torch.nn.functional.one_hot(codes, len(variable.levels)).to(X.dtype))
        else:
            columns.append(X[:, i : i + 1])
    return torch.cat(columns, dim=-1) if columns else X


def per_task_standardization(
    targets: torch.Tensor, task: torch.Tensor, num_tasks: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-task mean and (unbiased) std of ``n`` targets, ``t`` each; std 1 where undefined.

    The same rule as ``mtgp_kinetics.model.standardization``, written out here so the baseline does
    not depend on package internals.
    """
    mean = torch.zeros(num_tasks, dtype=targets.dtype)
    std = torch.ones(num_tasks, dtype=targets.dtype)
    for t in range(num_tasks):
        y = targets[task == t]
        if y.numel() >= 1:
            mean[t] = y.mean()
        if y.numel() >= 2 and float(y.std()) > 0:
            std[t] = y.std()
    return mean, std


class BotorchMultiTaskGP:
    """botorch ``MultiTaskGP`` (ICM) on long-format data, per-task standardized outside the model.

    ``MultiTaskGP``'s default ``Standardize`` outcome transform would standardize all tasks
    jointly (one mean and std for log10 delays and logit fractions together), so it is replaced by
    per-task standardization done here and ``outcome_transform=None``.

    Parameters
    ----------
    num_tasks : int
        ``t``.
    """

    name = "botorch MultiTaskGP"

    def __init__(self, num_tasks: int) -> None:
        self.num_tasks = num_tasks
        self.model_: MultiTaskGP | None = None

    def fit(self, X: torch.Tensor, y: torch.Tensor) -> BotorchMultiTaskGP:
        """Fit to ``n x (d + 1)`` inputs (task index last) and ``n`` transformed targets."""
        task = X[:, -1].round().long()
        self.mean_, self.std_ = per_task_standardization(y, task, self.num_tasks)
        z = (y - self.mean_[task]) / self.std_[task]
        # MultiTaskGP does not run botorch's input-scaling checks on the task column; the other
        # columns are in [0, 1] already, and z has mean 0 and std 1 within each task.
        model = MultiTaskGP(X, z.unsqueeze(-1), task_feature=-1, outcome_transform=None)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        model.eval()
        self.model_ = model
        return self

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and std, each ``n x t``, at ``n x d`` conditions (no task column)."""
        with torch.no_grad():
            posterior = self.model_.posterior(X)  # multi-output: all tasks at each condition
            mean = posterior.mean * self.std_ + self.mean_
            std = posterior.variance.clamp_min(0.0).sqrt() * self.std_
        return mean, std


class BotorchSingleTaskGPs:
    """One botorch ``SingleTaskGP`` per task, each standardized by its own mean and std.

    Parameters
    ----------
    num_tasks : int
        ``t``.
    """

    name = "botorch SingleTaskGPs"

    def __init__(self, num_tasks: int) -> None:
        self.num_tasks = num_tasks
        self.models_: list[SingleTaskGP] = []

    def fit(self, X: torch.Tensor, y: torch.Tensor) -> BotorchSingleTaskGPs:
        """Fit to ``n x (d + 1)`` inputs (task index last) and ``n`` transformed targets."""
        task = X[:, -1].round().long()
        self.mean_, self.std_ = per_task_standardization(y, task, self.num_tasks)
        self.models_ = []
        for t in range(self.num_tasks):
            rows = task == t
            z = (y[rows] - self.mean_[t]) / self.std_[t]
            # Exactly standardized targets and inputs in [0, 1]: botorch's scaling checks pass, so
            # no InputDataWarning is expected (and none is filtered).
            model = SingleTaskGP(X[rows, :-1], z.unsqueeze(-1), outcome_transform=None)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            model.eval()
            self.models_.append(model)
        return self

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and std, each ``n x t``, at ``n x d`` conditions (no task column)."""
        means, stds = [], []
        with torch.no_grad():
            for t, model in enumerate(self.models_):
                posterior = model.posterior(X)
                means.append(posterior.mean.squeeze(-1) * self.std_[t] + self.mean_[t])
                stds.append(posterior.variance.squeeze(-1).clamp_min(0.0).sqrt() * self.std_[t])
        return torch.stack(means, dim=-1), torch.stack(stds, dim=-1)
