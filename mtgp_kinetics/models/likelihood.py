"""Per-task observation noise: learned for some tasks, fixed to known variances for others.

For observation ``i`` of task ``t_i`` the noise variance is

* ``sigma_t^2`` (learned, one per task) when the task has no known measurement noise;
* the user's known variance of that observation when the task has a noise column;
* the known variance plus a learned excess ``sigma_t^2`` when the task also has ``excess_noise``
  (stated uncertainties that may be too small: :func:`~mtgp_kinetics.models.priors.excess_noise_prior`).

At new inputs (predicting a new measurement) a fixed-noise task uses the median of its known
variances, which is what "a typical new measurement of this task" means. A ``jitter`` buffer adds a
small constant to the diagonal; :func:`~mtgp_kinetics.fitting.fit_map` raises it when a Cholesky
factorization fails, and it stays part of the model so predictions use the same matrix.
"""

from __future__ import annotations

import torch
from gpytorch.constraints import GreaterThan
from gpytorch.likelihoods import _GaussianLikelihoodBase
from gpytorch.likelihoods.noise_models import Noise
from gpytorch.priors import Prior
from linear_operator.operators import DiagLinearOperator

from mtgp_kinetics.models.priors import MIN_NOISE_VARIANCE, excess_noise_prior, noise_prior


class TaskNoise(Noise):
    """Diagonal noise model indexed by the task column of the inputs.

    Parameters
    ----------
    train_inputs : Tensor
        ``n x (d + 1)`` training inputs, last column the task index.
    known_variance : Tensor
        ``n`` known noise variances (standardized units), NaN where unknown.
    num_tasks : int
        ``t``.
    excess : Tensor, optional
        ``t`` booleans: known-noise tasks that also learn an excess variance (default: none).
    """

    def __init__(
        self,
        train_inputs: torch.Tensor,
        known_variance: torch.Tensor,
        num_tasks: int,
        excess: torch.Tensor | None = None,
    ):
        super().__init__()
        tasks = train_inputs[:, -1].round().long()
        fixed = torch.zeros(num_tasks, dtype=torch.bool)
        typical = torch.full((num_tasks,), float("nan"), dtype=train_inputs.dtype)
        for t in range(num_tasks):
            known_t = known_variance[tasks == t]
            if known_t.numel() and not torch.isnan(known_t).any():
                fixed[t] = True
                typical[t] = torch.quantile(known_t, 0.5)  # the usual median (torch.median takes the lower)
        self.register_buffer("train_inputs", train_inputs.clone())
        self.register_buffer("known_variance", known_variance.clone())
        self.register_buffer("fixed_tasks", fixed)
        wanted = torch.zeros(num_tasks, dtype=torch.bool) if excess is None else torch.as_tensor(excess)
        self.register_buffer("excess_tasks", wanted.to(torch.bool) & fixed)
        self.register_buffer("typical_known_variance", typical)
        self.register_buffer("jitter", torch.zeros((), dtype=train_inputs.dtype))
        self.register_parameter("raw_noise", torch.nn.Parameter(torch.zeros(num_tasks)))
        prior = noise_prior()
        self.register_constraint(
            "raw_noise", GreaterThan(MIN_NOISE_VARIANCE, transform=None, initial_value=prior.mode)
        )
        self.set_noise_prior(prior)
        excess_prior = excess_noise_prior()
        self.register_prior("excess_noise_prior", excess_prior, lambda m: m.noise[m.excess_tasks])
        start = torch.where(self.excess_tasks, float(excess_prior.mode), float(prior.mode))
        self.initialize(raw_noise=start.to(train_inputs.dtype))

    def set_noise_prior(self, prior: Prior) -> None:
        """Use ``prior`` on the learned noise variances (tasks with an excess have their own prior).

        The MAP fit and NUTS use different priors (:func:`~mtgp_kinetics.models.priors.noise_prior`,
        :func:`~mtgp_kinetics.models.priors.sampling_noise_prior`); this swaps one for the other.
        A fixed-noise task without an excess does not use its entry, which is scored under the
        prior all the same: NUTS samples every trainable coordinate, and one without a prior has
        an improper posterior (a helper's sweep: the coordinate drifted to 1e4, chains hit their
        tree-depth cap and the fit took 100 s). The entry enters no prediction, and a MAP fit
        leaves it at the prior's mode.
        """
        self.register_prior("noise_prior", prior, lambda m: m.noise[~m.excess_tasks])

    @property
    def noise(self) -> torch.Tensor:
        """Learned noise variance per task, shape ``t`` (unused for fixed-noise tasks)."""
        return self.raw_noise_constraint.transform(self.raw_noise)

    @noise.setter
    def noise(self, value: torch.Tensor) -> None:
        self.initialize(raw_noise=self.raw_noise_constraint.inverse_transform(torch.as_tensor(value)))

    def excess_variance(self) -> torch.Tensor:
        """Learned variance added to each task's known ones, shape ``t`` (0 without ``excess_noise``)."""
        return torch.where(self.excess_tasks, self.noise, torch.zeros_like(self.noise))

    def per_task_variance(self) -> torch.Tensor:
        """Noise variance of a new measurement of each task, shape ``t``."""
        return torch.where(self.fixed_tasks, self.typical_known_variance + self.excess_variance(), self.noise)

    def forward(self, *params: torch.Tensor, shape: torch.Size | None = None, **kwargs) -> DiagLinearOperator:
        """Noise covariance of inputs ``params[0]`` (``... x n x (d + 1)``)."""
        X = params[0]
        if isinstance(X, (list, tuple)):  # gpytorch passes train_inputs as a list in some paths
            X = X[0]
        tasks = X[..., -1].round().long()
        variance = self.per_task_variance()[tasks]
        n_train = self.train_inputs.shape[0]
        # Training rows (also as the prefix of a fantasy model's inputs) keep their known variances.
        if X.shape[-2] >= n_train and torch.equal(
            X[..., :n_train, :], self.train_inputs.expand(*X.shape[:-2], n_train, X.shape[-1])
        ):
            known = self.known_variance.expand(*X.shape[:-2], n_train)
            known = known + self.excess_variance()[tasks[..., :n_train]]  # NaN stays NaN: a learned-noise row
            head = torch.where(torch.isnan(known), variance[..., :n_train], known)
            variance = torch.cat([head, variance[..., n_train:]], dim=-1)
        return DiagLinearOperator(variance + self.jitter)


class TaskNoiseLikelihood(_GaussianLikelihoodBase):
    """Gaussian likelihood with :class:`TaskNoise`."""

    def __init__(self, noise_covar: TaskNoise) -> None:
        super().__init__(noise_covar=noise_covar)
