"""The coregionalized multi-task GP as a botorch ``Model``.

It works in model coordinates: inputs ``n x (d + 1)`` (normalized conditions, then the task index)
and standardized transformed outputs. :class:`~mtgp_kinetics.model.KineticsModel` wraps it with the
physical units. Being a botorch ``GPyTorchModel``, its ``posterior`` feeds botorch's acquisition
functions and optimizers directly:

* ``X`` of shape ``batch x q x (d + 1)`` (task column included): single-output posterior of those
  (condition, task) pairs -- what per-task, cost-aware design needs;
* ``X`` of shape ``batch x q x d``: a ``q x t`` multi-output posterior over all tasks at each condition.
"""

from __future__ import annotations

import torch
from botorch.acquisition.objective import PosteriorTransform
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.model import FantasizeMixin
from botorch.posteriors.gpytorch import GPyTorchPosterior
from botorch.posteriors.transformed import TransformedPosterior
from botorch.settings import propagate_grads
from gpytorch.distributions import MultitaskMultivariateNormal, MultivariateNormal
from gpytorch.models import ExactGP
from gpytorch.settings import detach_test_caches, fast_pred_var

from mtgp_kinetics.models.coregionalization import CoregionalizationKernel
from mtgp_kinetics.models.dense_covariance import training_covariance
from mtgp_kinetics.models.likelihood import TaskNoise, TaskNoiseLikelihood
from mtgp_kinetics.models.means import TaskMean


class CoregionalGP(ExactGP, GPyTorchModel, FantasizeMixin):
    """Exact GP over (condition, task) with a coregionalization kernel and per-task noise.

    Parameters
    ----------
    train_X : Tensor
        ``n x (d + 1)`` training inputs; the last column holds task indices ``0 .. t-1``.
    train_Y : Tensor
        ``n`` standardized training targets.
    known_variance : Tensor
        ``n`` known noise variances in standardized units, NaN where the noise is learned.
    covar_module : CoregionalizationKernel
        The ICM / LMC / independent kernel.
    num_tasks : int
        ``t``.
    mean_module : TaskMean, optional
        Per-task mean (default: a constant per task).
    excess_noise : Tensor, optional
        ``t`` booleans: known-noise tasks that also learn an excess variance.
    """

    def __init__(
        self,
        train_X: torch.Tensor,
        train_Y: torch.Tensor,
        known_variance: torch.Tensor,
        covar_module: CoregionalizationKernel,
        num_tasks: int,
        mean_module: TaskMean | None = None,
        excess_noise: torch.Tensor | None = None,
    ) -> None:
        likelihood = TaskNoiseLikelihood(TaskNoise(train_X, known_variance, num_tasks, excess_noise))
        super().__init__(train_X, train_Y, likelihood)
        self.mean_module = TaskMean(num_tasks) if mean_module is None else mean_module
        self.covar_module = covar_module
        self.num_tasks = num_tasks
        self.num_conditions = train_X.shape[-1] - 1
        self._num_outputs = num_tasks
        self.to(train_X)

    def load_state_dict(
        self, state_dict: dict, strict: bool = True, keep_transforms: bool = True, assign: bool = False
    ) -> None:
        """Load hyperparameters; exact, since no botorch input/outcome transform lives in this model."""
        super().load_state_dict(state_dict, strict=strict, keep_transforms=False, assign=assign)

    def forward(self, x: torch.Tensor) -> MultivariateNormal:
        """Prior over inputs ``... x n x (d + 1)``."""
        return MultivariateNormal(self.mean_module(x), self.covar_module(x))

    def training_system(self) -> torch.Tensor:
        """``K(X, X) + N`` over the training inputs (``n x n``): the kernel plus each observation's noise.

        The matrix whose Cholesky factor every exact computation on the training data starts from
        (predictive means, leave-one-out, variance reductions, per-task marginal likelihoods).
        ``K`` comes from :class:`~mtgp_kinetics.models.dense_covariance.TrainingCovariance` (the
        kernel module's ``forward`` only for kernels it cannot evaluate): equal to 1e-12, and
        several times faster than gpytorch's kernel modules.
        """
        X = self.train_inputs[0]
        fast = training_covariance(self.covar_module, X)
        K = self.covar_module.forward(X, X) if fast is None else fast()
        return K + torch.diag_embed(self.likelihood.noise_covar(X).diagonal())

    def all_tasks_inputs(self, X: torch.Tensor) -> torch.Tensor:
        """``... x q x d`` conditions -> ``... x (t q) x (d + 1)``, task-major (task 0 first)."""
        tasks = torch.arange(self.num_tasks, dtype=X.dtype, device=X.device)
        X_rep = X.unsqueeze(-3).expand(*X.shape[:-2], self.num_tasks, *X.shape[-2:])
        task_col = tasks.view(-1, 1, 1).expand(*X_rep.shape[:-1], 1)
        return torch.cat([X_rep, task_col], dim=-1).reshape(*X.shape[:-2], -1, X.shape[-1] + 1)

    def condition_on_observations(self, X: torch.Tensor, Y: torch.Tensor, **kwargs: object) -> CoregionalGP:
        """A copy of the model conditioned on extra (e.g. fantasized) observations.

        Parameters
        ----------
        X : Tensor
            ``batch x q x (d + 1)`` with the task column, or ``batch x q x d`` for all tasks.
        Y : Tensor
            ``(s x) batch x q x 1`` for the first layout, ``(s x) batch x q x t`` for the second,
            in standardized units.

        Returns
        -------
        CoregionalGP
            The conditioned model; its noise at the new points is each task's noise model
            (``noise`` passed by botorch is ignored for that reason).
        """
        kwargs.pop("noise", None)
        if X.shape[-1] == self.num_conditions:
            X = self.all_tasks_inputs(X)
            Y = Y.transpose(-1, -2).reshape(*Y.shape[:-2], -1)
        else:
            Y = Y.squeeze(-1)
        return self.get_fantasy_model(inputs=X, targets=Y, **kwargs)

    def posterior(
        self,
        X: torch.Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | torch.Tensor = False,
        posterior_transform: PosteriorTransform | None = None,
        **kwargs: object,
    ) -> GPyTorchPosterior | TransformedPosterior:
        """Posterior at ``X`` (see module docstring for the two input layouts).

        Parameters
        ----------
        X : Tensor
            ``batch x q x (d + 1)`` (with task column) or ``batch x q x d`` (all tasks).
        output_indices : list of int, optional
            Not supported; present for botorch's signature.
        observation_noise : bool
            Add the noise of a new measurement of each task.
        posterior_transform : PosteriorTransform, optional
            E.g. botorch's ``ScalarizedPosteriorTransform`` with task weights.

        Returns
        -------
        GPyTorchPosterior
            Single-output (``batch x q x 1``) or multi-output (``batch x q x t``) posterior.
        """
        if output_indices is not None:
            raise NotImplementedError("output_indices is not supported; pass the task column instead")
        if torch.is_tensor(observation_noise):
            raise NotImplementedError("pass observation_noise=True to use each task's noise model")
        self.eval()
        with_task = X.shape[-1] == self.num_conditions + 1
        X_full = X if with_task else self.all_tasks_inputs(X)
        # As botorch's gpt_posterior_settings, but with exact variances (no LOVE approximation):
        # test caches stay attached to the graph when botorch propagates gradients through
        # fantasies (qNegIntegratedPosteriorVariance); otherwise their gradients are wrong.
        with fast_pred_var(False), detach_test_caches(propagate_grads.off()):
            mvn = self(X_full)
            if observation_noise:
                mvn = self.likelihood(mvn, X_full)
        if with_task:
            posterior = GPyTorchPosterior(mvn)
        else:
            q = X.shape[-2]
            mean = mvn.mean.view(*mvn.mean.shape[:-1], self.num_tasks, q).transpose(-1, -2)
            mtmvn = MultitaskMultivariateNormal(
                mean=mean, covariance_matrix=mvn.lazy_covariance_matrix, interleaved=False
            )
            posterior = GPyTorchPosterior(mtmvn)
        if posterior_transform is not None:
            return posterior_transform(posterior)
        return posterior
