"""The fitted multi-task model a user holds: predictions and task structure in physical units.

:class:`KineticsModel` composes a :class:`~mtgp_kinetics.models.gp.CoregionalGP` (the botorch model,
in normalized inputs and standardized transformed outputs) with the dataset's space and tasks, and
translates both ways. Use :func:`mtgp_kinetics.fit` to make one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from gpytorch.distributions import MultivariateNormal

from mtgp_kinetics.back_transform import central_interval, physical_std
from mtgp_kinetics.errors import InputDataError, NotFittedError, NumericsWarning, check_probability
from mtgp_kinetics.fitting import FitResult, threads_for
from mtgp_kinetics.hyperparameter_uncertainty import HyperparameterUncertainty
from mtgp_kinetics.models.gp import CoregionalGP
from mtgp_kinetics.models.means import make_mean
from mtgp_kinetics.models.structure import KernelSpec, build_kernel
from mtgp_kinetics.space import Space
from mtgp_kinetics.tasks import Task

if TYPE_CHECKING:
    from mtgp_kinetics.dataset import Dataset

PREDICT_CHUNK = 1024  # conditions per block in predict(): bounds memory on large grids
#: Training observations from which ``predict`` leaves out the hyperparameters' own uncertainty
#: unless asked for it. Its Hessian costs ``2 p`` objective gradients, each with a Cholesky factor of
#: the training covariance, and the posterior concentrates as the data grow. Measured (session 10,
#: isotopic, default model, 1000 held-out conditions, 2 seeds): on the analytic problem the term
#: moved NLPD by at most 0.005 nats from 300 observations on; on H2/O2 it still gained 0.01-0.10 at
#: 300 and up to 0.07 at 800, for 1.0-2.7 s per model against fits of 1.6-13 s. At about 1000
#: observations of a 3-task, 6-condition problem it took 19 s for 1000 conditions (0.6 s without).
HYPERPARAMETER_UNCERTAINTY_BELOW = 1000

#: Folds of :meth:`KineticsModel.cross_validate` unless given (fewer where there are fewer groups).
DEFAULT_FOLDS = 5

#: Leave-one-out standardized residual beyond which :meth:`KineticsModel.outliers` reports an
#: observation (and ``mk.fit`` warns): 6e-5 per observation for a correct Gaussian model.
OUTLIER_Z = 4.0


def standardization(
    targets: torch.Tensor, tasks: torch.Tensor, num_tasks: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-task mean and std (``t`` each) of transformed targets.

    The std is 1 where it is undefined (fewer than 2 values, or all equal).
    """
    mean = torch.zeros(num_tasks, dtype=torch.float64)
    std = torch.ones(num_tasks, dtype=torch.float64)
    for t in range(num_tasks):
        y = targets[tasks == t]
        if y.numel() >= 1:
            mean[t] = y.mean()
        if y.numel() >= 2 and float(y.std()) > 0:
            std[t] = y.std()
    return mean, std


class KineticsModel:
    """A multi-task GP over a space of conditions and a list of tasks.

    Parameters
    ----------
    space : Space
        The conditions.
    tasks : sequence of Task
        The outputs, in model order.
    kernel : KernelSpec
        Coregionalization structure.
    train_inputs : Tensor
        ``n x (d + 1)`` model inputs, last column the task index.
    train_targets : Tensor
        ``n`` transformed (not standardized) values.
    known_variance : Tensor
        ``n`` known noise variances in transformed units, NaN where learned.
    data : Dataset, optional
        The dataset the tensors came from, kept for reports.
    mean : {"constant", "linear"}
        Per-task mean: a constant, or a constant plus slopes in the transformed, normalized
        conditions (:mod:`mtgp_kinetics.models.means`).

    Attributes
    ----------
    gp : CoregionalGP
        The botorch model (standardized units); pass it to botorch acquisition functions.
    fit_result_ : FitResult or None
        Set by fitting; ``None`` until then.
    averaged_tasks_ : tuple of str
        Tasks whose marginal predictions average over the hyperparameter posterior (importance
        sampling, :mod:`mtgp_kinetics.bayes.importance`) instead of adding the delta-method term;
        the default model sets it for thinly observed tasks of a shared process. Empty by default.
    """

    def __init__(
        self,
        space: Space,
        tasks: Sequence[Task],
        kernel: KernelSpec,
        train_inputs: torch.Tensor,
        train_targets: torch.Tensor,
        known_variance: torch.Tensor,
        data: Dataset | None = None,
        mean: str = "constant",
    ) -> None:
        self.space = space
        self.mean = mean
        self.tasks = tuple(tasks)
        self.kernel = kernel
        self.data = data
        self.train_inputs = train_inputs.to(torch.float64)
        self.train_targets = train_targets.to(torch.float64)
        self.known_variance = known_variance.to(torch.float64)
        task_index = self.train_inputs[:, -1].round().long()
        self.y_mean, self.y_std = standardization(self.train_targets, task_index, self.num_tasks)
        scale = self.y_std[task_index]
        covar = build_kernel(kernel, space, self.num_tasks)
        self.gp = CoregionalGP(
            self.train_inputs,
            (self.train_targets - self.y_mean[task_index]) / scale,
            self.known_variance / scale**2,
            covar,
            self.num_tasks,
            make_mean(mean, self.num_tasks, space.continuous_dims),
            torch.tensor([task.excess_noise for task in self.tasks]),
        )
        self.fit_result_: FitResult | None = None
        self._averaged_tasks: tuple[str, ...] = ()
        self._laplace: HyperparameterUncertainty | None = None
        # (parameters, HyperparameterMixture or None) of the last fit that predicted averaged tasks.
        self._mixture: tuple[list[torch.Tensor], Any] | None = None

    @classmethod
    def from_dataset(cls, data: Dataset, kernel: KernelSpec, mean: str = "constant") -> KineticsModel:
        """Build an (unfitted) model of ``data``."""
        return cls(
            data.space,
            data.tasks,
            kernel,
            data.train_inputs(),
            data.train_targets(),
            data.train_noise_variance(),
            data=data,
            mean=mean,
        )

    # -- basic facts ---------------------------------------------------------------------------
    @property
    def num_tasks(self) -> int:
        """``t``."""
        return len(self.tasks)

    @property
    def task_names(self) -> list[str]:
        """Task names in model order."""
        return [task.name for task in self.tasks]

    def _check_fitted(self) -> None:
        if self.fit_result_ is None:
            raise NotFittedError("the model is not fitted yet; use mtgp_kinetics.fit(data) to fit one")

    def __repr__(self) -> str:
        state = "fitted" if self.fit_result_ is not None else "not fitted"
        return (
            f"KineticsModel(kernel={self.kernel.name!r}, tasks={self.task_names}, "
            f"n={self.train_inputs.shape[0]}, {state})"
        )

    # -- inputs --------------------------------------------------------------------------------
    def _task_indices(self, tasks: Sequence[str] | str | None) -> list[int]:
        if tasks is None:
            return list(range(self.num_tasks))
        if isinstance(tasks, str):
            tasks = [tasks]  # one task name, not its characters
        if len(tasks) == 0:
            raise InputDataError(f"tasks is empty; give task names from {self.task_names}, or None for all")
        names = self.task_names
        unknown = [t for t in tasks if t not in names]
        if unknown:
            raise InputDataError(f"unknown task(s) {unknown}; the model's tasks are {names}")
        return [names.index(t) for t in tasks]

    def _model_inputs(self, conditions: pd.DataFrame, task_idx: Sequence[int]) -> torch.Tensor:
        """Conditions (``n`` rows) -> ``(n k) x (d + 1)`` inputs, condition-major over ``k`` tasks."""
        if not isinstance(conditions, pd.DataFrame):
            raise InputDataError(f"conditions must be a pandas DataFrame, got {type(conditions).__name__}")
        # Outside the space's bounds a prediction extrapolates: a DataWarning, not an error.
        X = self.space.to_model(conditions, outside="warn")
        n, k = X.shape[0], len(task_idx)
        tasks = torch.tensor(task_idx, dtype=torch.float64).repeat(n).unsqueeze(-1)
        return torch.cat([X.repeat_interleave(k, dim=0), tasks], dim=-1)

    def _row_index(self, conditions: pd.DataFrame, task_of_row: np.ndarray, k: int) -> pd.DataFrame:
        """Condition columns, ``task`` and ``row`` of the ``n k`` condition-major rows of ``_model_inputs``.

        ``row`` is the label of the row of ``conditions`` each prediction belongs to, so predictions
        of repeated conditions, or of a frame indexed by run names, map back to their rows.
        """
        frame = conditions[self.space.names].iloc[np.repeat(np.arange(len(conditions)), k)]
        labels = frame.index
        frame = frame.reset_index(drop=True)
        frame["task"] = [self.task_names[t] for t in task_of_row]
        if "row" not in frame.columns:  # a condition called "row" keeps its name
            frame["row"] = labels
        return frame

    def _unstandardize(
        self, mean: torch.Tensor, cov_or_var: torch.Tensor, task: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scale = self.y_std[task]
        mean = mean * scale + self.y_mean[task]
        if cov_or_var.dim() == 2:
            return mean, cov_or_var * scale.unsqueeze(-1) * scale.unsqueeze(-2)
        return mean, cov_or_var * scale**2

    def _fresh_posterior_cache(self) -> None:
        """Drop gpytorch's cached ``K^-1 y`` so each prediction is computed the same way.

        gpytorch caches the training solve on the first posterior call, and the cached values depend
        at rounding level (1e-15) on the test points of that first call (its Matern kernel centres
        train and test inputs together). Rebuilding it per call (one Cholesky) makes predictions a
        function of the model and the conditions only, so saved and loaded models agree bitwise.
        """
        self.gp.prediction_strategy = None

    def _posterior_mvn(self, X: torch.Tensor, observation_noise: bool) -> MultivariateNormal:
        self.gp.eval()
        mvn = self.gp(X)
        if observation_noise:
            mvn = self.gp.likelihood(mvn, X)
        return mvn

    def _training_solve(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``L = chol(K + N)`` (``n x n``) and ``alpha = (K + N)^-1 (y - m)`` (``n``), standardized.

        Raises
        ------
        torch.linalg.LinAlgError
            If the training system is not numerically positive definite.
        """
        gp = self.gp
        with torch.no_grad():
            L = torch.linalg.cholesky(gp.training_system())
            residual = (gp.train_targets - gp.mean_module(gp.train_inputs[0])).unsqueeze(-1)
            return L, torch.cholesky_solve(residual, L).squeeze(-1)

    def _marginal_posterior(
        self, X: torch.Tensor, observation_noise: bool, chunk: int
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Posterior mean and variance (standardized) of ``N x (d + 1)`` inputs, per block of ``chunk``.

        ``m(x) + k(x, X) alpha`` and ``k(x, x) - v^T v`` with ``v = L^-1 k(X, x)`` (R&W eqs.
        2.25-2.26, one Cholesky factor ``L`` of the training system for all blocks), plus the noise
        of a new measurement with ``observation_noise``. Only the diagonal of the test covariance is
        evaluated: gpytorch's posterior builds the full block, which took 0.8 of 0.8 s for 1000 H2/O2
        conditions (2000 pairs, a rotated kernel). Falls back to that posterior where the factor
        cannot be computed without gpytorch's jitter handling. Returns one ``(mean, variance)``
        pair of ``chunk``-sized tensors per block.
        """
        gp = self.gp
        X_train = gp.train_inputs[0]
        blocks = X.split(chunk)
        try:
            L, alpha = self._training_solve()
        except torch.linalg.LinAlgError:
            out = []
            for block in blocks:
                mvn = self._posterior_mvn(block, observation_noise)
                out.append((mvn.mean, mvn.variance))
            return out
        out = []
        for block in blocks:
            cross = gp.covar_module.forward(block, X_train)
            v = torch.linalg.solve_triangular(L, cross.transpose(-1, -2), upper=False)
            variance = gp.covar_module.forward(block, block, diag=True) - (v * v).sum(-2)
            if observation_noise:
                variance = variance + gp.likelihood.noise_covar(block).diagonal()
            out.append((gp.mean_module(block) + cross @ alpha, variance))
        return out

    def _posterior_means(self, X: torch.Tensor) -> torch.Tensor:
        """Latent posterior means (standardized) of ``N x (d + 1)`` inputs, ``N``.

        ``m(X) + K(X, X_train) (K_train + D)^-1 (y - m(X_train))`` (R&W eq. 2.25) with one dense
        Cholesky factor and no predictive covariance: the ``2 p`` means of the hyperparameter
        sensitivities cost about one prediction together.
        """
        gp = self.gp
        X_train = gp.train_inputs[0]
        with torch.no_grad():
            _, alpha = self._training_solve()
            blocks = [
                gp.mean_module(block) + gp.covar_module.forward(block, X_train) @ alpha
                for block in X.split(PREDICT_CHUNK * self.num_tasks)
            ]
        return torch.cat(blocks) if blocks else torch.zeros(0, dtype=torch.float64)

    def hyperparameter_uncertainty(self) -> HyperparameterUncertainty:
        """The Laplace approximation of the hyperparameter posterior at the current (MAP) point.

        Computed on first use and again whenever the hyperparameters have changed (a refit, a load);
        see :mod:`mtgp_kinetics.hyperparameter_uncertainty`.
        """
        self._check_fitted()
        laplace = self._laplace
        if laplace is None or not laplace.is_current():
            laplace = self._laplace = HyperparameterUncertainty(self.gp)
        return laplace

    def _adds_hyperparameter_uncertainty(self, requested: bool | None) -> bool:
        """Whether a prediction adds the Laplace term: as requested, or by data size (``None``)."""
        if requested is None:
            return int(self.gp.train_targets.shape[-1]) < HYPERPARAMETER_UNCERTAINTY_BELOW
        return bool(requested)

    @property
    def averaged_tasks_(self) -> tuple[str, ...]:
        """Tasks whose marginal predictions average over the hyperparameter posterior (model order).

        Set it to task names (a name, or a sequence of names); unknown names are refused.
        """
        return self._averaged_tasks

    @averaged_tasks_.setter
    def averaged_tasks_(self, names: str | Sequence[str]) -> None:
        names = (names,) if isinstance(names, str) else tuple(names)
        unknown = [name for name in names if name not in self.task_names]
        if unknown:
            raise InputDataError(
                f"averaged_tasks_: unknown task(s) {unknown}; the model's tasks are {self.task_names}"
            )
        self._averaged_tasks = tuple(name for name in self.task_names if name in names)

    def hyperparameter_mixture(self) -> Any:
        """The importance-sampled hyperparameter posterior that predictions of ``averaged_tasks_`` mix.

        Computed on first use and again whenever the hyperparameters have changed; ``None`` (with a
        :class:`NumericsWarning`, once per fit) where it cannot be computed reliably.

        Returns
        -------
        HyperparameterMixture or None
            See :class:`mtgp_kinetics.bayes.importance.HyperparameterMixture`.
        """
        return self._hyperparameter_mixture(stacklevel=2)

    def _hyperparameter_mixture(self, stacklevel: int) -> Any:
        """:meth:`hyperparameter_mixture`, warning ``stacklevel`` frames up from the caller (1: it)."""
        from mtgp_kinetics.bayes.importance import hyperparameter_mixture

        self._check_fitted()
        now = [p.detach() for p in self.gp.parameters()]
        if self._mixture is not None:
            snapshot, mixture = self._mixture
            if len(now) == len(snapshot) and all(
                p.shape == q.shape and torch.equal(p, q) for p, q in zip(now, snapshot, strict=True)
            ):
                return mixture  # also a failure (None): its warning is not repeated per prediction
        with threads_for(self.gp.train_targets.shape[-1]):
            mixture = hyperparameter_mixture(self, stacklevel=stacklevel + 2)
        self._mixture = ([p.clone() for p in now], mixture)
        return mixture

    def _averaged(
        self,
        frame: pd.DataFrame,
        conditions: pd.DataFrame,
        level: float,
        observation_noise: bool,
        task_idx: Sequence[int],
    ) -> pd.DataFrame:
        """``frame`` with the rows of ``averaged_tasks_`` replaced by the hyperparameter mixture's."""
        names = [self.task_names[t] for t in task_idx if self.task_names[t] in self.averaged_tasks_]
        mixture = self._hyperparameter_mixture(stacklevel=3) if names else None  # predict's caller
        if mixture is None:
            return frame
        mixed = mixture.bayesian.predict(conditions, level, observation_noise, tasks=names)
        columns = ["mean", "std", "lower", "upper", "transformed_mean", "transformed_std"]
        for name in names:
            frame.loc[frame["task"] == name, columns] = mixed.loc[mixed["task"] == name, columns].to_numpy()
        return frame

    def _hyperparameter_sensitivities(self, X: torch.Tensor) -> torch.Tensor:
        """``p x N`` directional derivatives of the means at ``X``, modelled (unstandardized) units.

        ``(D ** 2).sum(0)`` is the variance the hyperparameter uncertainty adds, ``D^T D`` the
        covariance. ``0 x N`` where it could not be computed (a :class:`NumericsWarning` says why).
        Small training sets are computed on one thread (:func:`~mtgp_kinetics.fitting.threads_for`).
        """
        with threads_for(self.gp.train_targets.shape[-1]):
            try:
                laplace = self.hyperparameter_uncertainty()
            except (torch.linalg.LinAlgError, RuntimeError, ValueError) as error:
                warnings.warn(
                    f"hyperparameter uncertainty left out of the predictive variance: the Hessian of "
                    f"the MAP objective could not be computed ({error})",
                    NumericsWarning,
                    stacklevel=3,
                )
                return torch.zeros(0, X.shape[0], dtype=torch.float64)
            D = laplace.mean_sensitivities(lambda: self._posterior_means(X))
        if D.numel() == 0:
            return torch.zeros(0, X.shape[0], dtype=torch.float64)
        self._fresh_posterior_cache()
        return D * self.y_std[X[:, -1].round().long()]

    # -- predictions -----------------------------------------------------------------------------
    def predict(
        self,
        conditions: pd.DataFrame,
        level: float = 0.95,
        observation_noise: bool = False,
        tasks: Sequence[str] | None = None,
        hyperparameter_uncertainty: bool | None = None,
    ) -> pd.DataFrame:
        """Predict every task at each condition, in physical units.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` rows with a column per condition variable (physical units); other columns ignored.
            Conditions outside the space's bounds are predicted with a
            :class:`~mtgp_kinetics.errors.DataWarning` (extrapolation: the GP reverts towards its
            mean and its intervals widen); values the transform cannot take (``T <= 0`` under
            ``1000 / T``) and unknown categorical levels are errors.
        level : float
            Probability of the central interval ``[lower, upper]``, in (0, 1).
        observation_noise : bool
            ``False``: the latent (noise-free) quantity; ``True``: a new measurement, with each
            task's noise (learned, or the median known noise of a fixed-noise task).
        tasks : sequence of str, optional
            Subset of tasks (default: all).
        hyperparameter_uncertainty : bool, optional
            Add the variance that comes from not knowing the hyperparameters (Laplace approximation
            at the MAP point, delta method: :mod:`mtgp_kinetics.hyperparameter_uncertainty`; the
            mean is the same), or, for the tasks in ``averaged_tasks_``, average over the
            hyperparameter posterior (:meth:`hyperparameter_mixture`; mean and std of the mixture,
            its quantiles as the interval). ``False``: the MAP hyperparameters alone.
            ``None`` (default): as ``True`` below :data:`HYPERPARAMETER_UNCERTAINTY_BELOW` training
            observations, where it matters and costs little (the averaged tasks are averaged at any
            size).

        Returns
        -------
        DataFrame
            ``n k`` rows (condition-major), columns: the condition columns, ``task``, ``row`` (the
            label of the row of ``conditions`` it predicts, e.g. a run name), ``mean``
            (median for log/logit tasks, see :mod:`mtgp_kinetics.back_transform`), ``std``,
            ``lower``, ``upper`` in the task's physical unit, and ``transformed_mean``,
            ``transformed_std``: the Gaussian predictive in the modelled space (e.g. log10 s).
        """
        self._check_fitted()
        level = check_probability(level)
        task_idx = self._task_indices(tasks)
        X = self._model_inputs(conditions, task_idx)
        self._fresh_posterior_cache()
        means, stds = [], []
        with torch.no_grad():
            marginal = self._marginal_posterior(X, observation_noise, PREDICT_CHUNK * len(task_idx))
            for block, (mean, var) in zip(X.split(PREDICT_CHUNK * len(task_idx)), marginal, strict=True):
                mean, var = self._unstandardize(mean, var, block[:, -1].round().long())
                means.append(mean)
                stds.append(var.clamp_min(0.0).sqrt())
        mu = torch.cat(means).numpy()
        s = torch.cat(stds)
        if self._adds_hyperparameter_uncertainty(hyperparameter_uncertainty):
            extra = (self._hyperparameter_sensitivities(X) ** 2).sum(0)
            s = (s**2 + extra).sqrt()
        s = s.numpy()
        task_of_row = X[:, -1].round().long().numpy()
        frame = self._row_index(conditions, task_of_row, len(task_idx))
        mean_phys, std_phys = np.empty_like(mu), np.empty_like(mu)
        lower, upper = np.empty_like(mu), np.empty_like(mu)
        for t in task_idx:
            rows = task_of_row == t
            tf = self.tasks[t].output_transform
            mean_phys[rows] = tf.inverse(mu[rows])
            std_phys[rows] = physical_std(tf, mu[rows], s[rows])
            lower[rows], upper[rows] = central_interval(tf, mu[rows], s[rows], float(level))
        frame["mean"] = mean_phys
        frame["std"] = std_phys
        frame["lower"] = lower
        frame["upper"] = upper
        frame["transformed_mean"] = mu
        frame["transformed_std"] = s
        # Averaged tasks are averaged at any data size unless the MAP point alone is asked for: they
        # are thinly observed, however many observations the other tasks have.
        if self.averaged_tasks_ and hyperparameter_uncertainty is not False:
            frame = self._averaged(frame, conditions, float(level), observation_noise, task_idx)
        return frame

    def predict_joint(
        self,
        conditions: pd.DataFrame,
        observation_noise: bool = False,
        tasks: Sequence[str] | None = None,
        hyperparameter_uncertainty: bool | None = None,
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Joint Gaussian predictive over all (condition, task) pairs in the modelled space.

        With ``hyperparameter_uncertainty`` (see :meth:`predict`) the covariance includes the
        rank-``p`` term ``D^T D`` of the hyperparameter uncertainty, correlated across conditions
        and tasks (a longer lengthscale moves neighbouring predictions together). The tasks in
        ``averaged_tasks_`` get that term too: only :meth:`predict`'s marginals mix hyperparameter
        draws (a joint Gaussian over a mixture would not be one).

        Returns
        -------
        index : DataFrame
            ``N = n k`` rows (condition-major): the condition columns, ``task`` and ``row`` (the
            label of the row of ``conditions``).
        mean : ndarray
            ``N`` transformed-space means (e.g. log10 of a delay).
        covariance : ndarray
            ``N x N`` transformed-space covariance, correlated across tasks and conditions.
        """
        self._check_fitted()
        task_idx = self._task_indices(tasks)
        X = self._model_inputs(conditions, task_idx)
        self._fresh_posterior_cache()
        with torch.no_grad():
            mvn = self._posterior_mvn(X, observation_noise)
            mean, cov = self._unstandardize(mvn.mean, mvn.covariance_matrix, X[:, -1].round().long())
        if self._adds_hyperparameter_uncertainty(hyperparameter_uncertainty):
            D = self._hyperparameter_sensitivities(X)
            cov = cov + D.T @ D
        return (
            self._row_index(conditions, X[:, -1].round().long().numpy(), len(task_idx)),
            mean.numpy(),
            cov.numpy(),
        )

    def sample(
        self,
        conditions: pd.DataFrame,
        n_samples: int = 100,
        seed: int | None = None,
        observation_noise: bool = False,
        physical: bool = True,
        hyperparameter_uncertainty: bool | None = None,
        tasks: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Joint posterior samples of every task (or of ``tasks``) at every condition.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` conditions.
        n_samples : int
            ``s``, number of joint draws.
        seed : int, optional
            Seed of the draws.
        observation_noise : bool
            Sample new measurements instead of the latent functions.
        physical : bool
            Back-transform to physical units (default) or stay in the modelled space.
        hyperparameter_uncertainty : bool, optional
            As :meth:`predict` (the same default), but with the delta-method term for every task:
            the tasks in ``averaged_tasks_`` are not averaged here (as in :meth:`predict_joint`).
        tasks : sequence of str, optional
            Sample only these tasks (default: all): a smaller joint covariance to factorize.

        Returns
        -------
        ndarray
            ``s x n x t`` (``t``: the tasks sampled, in the order given), correlated across conditions
            and tasks as the model says.
        """
        task_idx = self._task_indices(tasks)
        _, mean, cov = self.predict_joint(
            conditions,
            observation_noise,
            tasks=[self.task_names[k] for k in task_idx],
            hyperparameter_uncertainty=hyperparameter_uncertainty,
        )
        n, t = len(conditions), len(task_idx)
        rng = np.random.default_rng(seed)
        # Eigen-decomposition instead of Cholesky: exact for the PSD but possibly singular
        # covariance of noise-free predictions at repeated conditions.
        eigval, eigvec = np.linalg.eigh(cov)
        root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
        draws = mean + rng.standard_normal((n_samples, mean.size)) @ root.T
        draws = draws.reshape(n_samples, n, t)
        if physical:
            for j, k in enumerate(task_idx):
                draws[..., j] = self.tasks[k].output_transform.inverse(draws[..., j])
        return draws

    # -- task structure --------------------------------------------------------------------------
    def _labelled(self, matrix: torch.Tensor) -> pd.DataFrame:
        names = pd.Index(self.task_names, name="task")
        return pd.DataFrame(matrix.detach().numpy(), index=names, columns=names.rename("task_"))

    def task_covariance(self) -> pd.DataFrame:
        """Covariance of the tasks at one condition (``t x t``, standardized transformed units).

        For ICM this is ``B``; for LMC ``sum_q B_q`` (every input kernel is 1 at zero distance).
        """
        self._check_fitted()
        with torch.no_grad():
            return self._labelled(self.gp.covar_module.task_covariance_at_zero_distance())

    def task_correlation(self) -> pd.DataFrame:
        """Correlation of the tasks at one condition, ``t x t`` labelled DataFrame."""
        cov = self.task_covariance().to_numpy()
        sd = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sd, sd)
        np.fill_diagonal(corr, 1.0)
        return self._labelled(torch.as_tensor(corr))

    def task_correlation_summary(self, level: float = 0.95) -> pd.DataFrame:
        """Each pair's task correlation with a credible interval from the hyperparameter posterior.

        :meth:`task_correlation` is the MAP point, which says nothing of how well the data
        determine it: with 10 observations of a task a MAP correlation of 0.92 came with a NUTS
        interval of [-0.22, 0.87] (session 19). This summarizes the correlation over the draws of
        :meth:`hyperparameter_mixture` (importance sampling of the posterior NUTS samples, same
        priors, about a second), the summary
        :meth:`BayesianKineticsModel.task_correlation_summary
        <mtgp_kinetics.bayes.model.BayesianKineticsModel.task_correlation_summary>` gives.

        Parameters
        ----------
        level : float
            Probability of the equal-tailed credible interval, in (0, 1).

        Returns
        -------
        DataFrame
            One row per pair ``task`` < ``task_`` (model order): ``map`` (:meth:`task_correlation`),
            ``mean``, ``median``, ``lower``, ``upper``, ``prob_positive`` and ``shared``: whether
            the structure lets the pair correlate at all. A pair not shared (independent GPs, or a
            task that opted out of the shared process) is 0 by construction, not by measurement:
            0 throughout, ``shared`` False. Where the posterior could not be sampled reliably (a
            :class:`~mtgp_kinetics.errors.NumericsWarning` says why) every column but ``map`` and
            ``shared`` is NaN.
        """
        level = check_probability(level)
        point = self.task_correlation()
        columns = ["task", "task_", "map", "mean", "median", "lower", "upper", "prob_positive", "shared"]
        pairs = [(a, b) for i, a in enumerate(self.task_names) for b in self.task_names[i + 1 :]]
        if not self.kernel.shares_tasks:
            rows = [(a, b, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False) for a, b in pairs]
            return pd.DataFrame(rows, columns=columns)
        shared = self._shared_pairs()
        mixture = self._hyperparameter_mixture(stacklevel=2) if pairs else None
        if mixture is None:
            nan = float("nan")
            rows = [(a, b, float(point.loc[a, b]), nan, nan, nan, nan, nan, shared[a, b]) for a, b in pairs]
            return pd.DataFrame(rows, columns=columns)
        summary = mixture.bayesian.task_correlation_summary(level)
        summary.insert(
            2, "map", [float(point.loc[a, b]) for a, b in zip(summary["task"], summary["task_"], strict=True)]
        )
        summary["shared"] = [shared[a, b] for a, b in zip(summary["task"], summary["task_"], strict=True)]
        return summary[columns]

    def _shared_pairs(self) -> dict[tuple[str, str], bool]:
        """``(a, b) -> whether some latent process couples tasks a and b`` (a nonzero ``B_q[a, b]``)."""
        coupled = np.zeros((self.num_tasks, self.num_tasks), dtype=bool)
        for B in self.latent_task_covariances():
            coupled |= B.to_numpy() != 0.0
        names = self.task_names
        return {(a, b): bool(coupled[i, j]) for i, a in enumerate(names) for j, b in enumerate(names)}

    def latent_task_covariances(self) -> list[pd.DataFrame]:
        """The coregionalization matrix ``B_q`` of each latent process (``t x t`` each)."""
        self._check_fitted()
        with torch.no_grad():
            return [self._labelled(B) for B in self.gp.covar_module.latent_matrices()]

    def noise_std(self) -> pd.Series:
        """Noise std of a new measurement of each task, in transformed units (e.g. log10 s)."""
        self._check_fitted()
        with torch.no_grad():
            var = self.gp.likelihood.noise_covar.per_task_variance() * self.y_std**2
        return pd.Series(var.sqrt().numpy(), index=pd.Index(self.task_names, name="task"), name="noise_std")

    # -- model checking --------------------------------------------------------------------------
    def held_out_predictions(
        self, by: str = "observation", folds: int | None = None, seed: int = 0, level: float = 0.95
    ) -> pd.DataFrame:
        """Exact cross-validated predictive of every training observation (hyperparameters fixed).

        Parameters
        ----------
        by : str
            ``"observation"``: hold out one observation at a time. ``"condition"``: every
            observation at the same conditions (all tasks and replicates of an experiment)
            together. Any other value names a column of the data's observations (an extra column
            of the frame the data were read from, e.g. the study or laboratory of a compilation,
            or ``"row"``): observations sharing its value are held out together, so a study's
            systematic offset cannot be predicted from the study's own other measurements.
        folds : int, optional
            With ``by`` other than ``"observation"``: k folds of those groups (seeded) instead of
            one group at a time.
        seed : int
            Seed of the fold assignment.
        level : float
            Central interval probability for ``inside``.

        Returns
        -------
        DataFrame
            ``n`` rows: ``task``, ``observed``, ``mean``, ``std`` (model output space, e.g. log10 s),
            ``log_density``, ``inside``; see :mod:`mtgp_kinetics.model_checking`.
        """
        from mtgp_kinetics import model_checking as mc

        self._check_fitted()
        if by == "observation":
            if folds is not None:
                raise InputDataError("folds applies to by='condition' or a column, not by='observation'")
            groups = None
        else:
            labels = mc.condition_groups(self.train_inputs) if by == "condition" else self._column_groups(by)
            what = "distinct conditions" if by == "condition" else f"groups of {by!r}"
            groups = labels if folds is None else mc.kfold_of(labels, folds, seed, what)
        predictive = mc.held_out_predictive(self.gp, groups)
        points = mc.pointwise_scores(predictive, self.y_mean, self.y_std, level)
        points.insert(0, "task", [self.task_names[k] for k in points.pop("task_index")])
        return points

    def _column_groups(self, column: str) -> np.ndarray:
        """``n`` group labels from a column of the training observations (``by=<column>``)."""
        observations = None if self.data is None else self.data.observations
        if observations is None or len(observations) != self.train_inputs.shape[0]:
            raise InputDataError(
                f"by={column!r}: this model does not hold its training observations; use "
                "by='observation' or by='condition'"
            )
        if not isinstance(column, str) or column not in observations.columns:
            extra = [c for c in observations.columns if c not in ("task", "value")]
            raise InputDataError(
                f"by must be 'condition', a column of the observations {extra} or, for held-out "
                f"predictions and loo, 'observation'; got {column!r}"
            )
        values = observations[column]
        missing = values.isna().to_numpy()
        if missing.any():
            # One source row holds several tasks' observations: name each row once.
            rows = sorted(set(observations.loc[missing, "row"].tolist())) if "row" in observations else []
            raise InputDataError(
                f"by={column!r}: the column is empty at source row(s) {rows[:10]}; every "
                "observation needs a group"
            )
        return pd.factorize(values)[0]

    def outliers(self, threshold: float = OUTLIER_Z, refit: int = 0) -> pd.DataFrame:
        """Observations whose leave-one-out standardized residual exceeds ``threshold``.

        ``z = (y - mu_-i) / s_-i`` with the exact leave-one-out predictive of each observation
        (R&W eq. 5.12, hyperparameters fixed; its variance includes the measurement noise). For a
        correct model ``z`` is standard normal: ``|z| > 4`` has probability 6e-5 per observation.
        A flagged observation is a mistyped or failed measurement, or a feature the smooth kernel
        cannot follow (on the H2/O2 problem, the second explosion limit gives ``|z|`` up to 4.6
        with 120-240 observations). Nothing is removed: look at the rows, then drop or correct
        them in the source data and refit.

        Parameters
        ----------
        threshold : float
            Smallest ``|z|`` reported.
        refit : int
            Refit the hyperparameters without each of up to ``refit`` observations with the largest
            ``|z|`` (from 2.5) and score them against that refit: a gross error inflates the fitted
            noise and hides itself otherwise (:mod:`mtgp_kinetics.outliers`). ``mtgp-kinetics
            status`` uses 3.

        Returns
        -------
        DataFrame
            One row per flagged observation, largest ``|z|`` first: ``row`` (source row label),
            the conditions, the data's extra columns (a study, a campaign's ``observation_id``),
            ``task``, ``observed``, ``mean``, ``std`` (held-out predictive, model output space)
            and ``z``.
        """
        from mtgp_kinetics.outliers import outlier_table

        return outlier_table(self, threshold, refit)

    def loo(self, level: float = 0.95, by: str = "observation") -> pd.DataFrame:
        """Leave-one-out check per task, exact and without refitting.

        Parameters
        ----------
        level : float
            Central interval probability for ``coverage``.
        by : str
            Leave out single observations (``"observation"``, default), whole conditions (all tasks
            together, ``"condition"``), or the groups of an observations column (a study, a
            laboratory; see :meth:`held_out_predictions`).
            Where the tasks are measured at the same conditions, a model that shares across tasks
            predicts a left-out observation partly from its sibling tasks at that very condition,
            which a new experiment would not have: ``"observation"`` then flatters sharing (in a
            check with 5 isotopic conditions, ICM's leave-one-out RMSE was 0.012 against 0.33 on
            new conditions). To judge predictions at new conditions, or to compare a shared model
            with independent GPs, use ``by="condition"`` (what :func:`mtgp_kinetics.compare` and the
            default model's choice use).

        Returns
        -------
        DataFrame
            One row per task: ``task``, ``n``, ``rmse``, ``nlpd`` (mean negative log predictive
            density in the model's output space, e.g. log10 s or logit), ``coverage``.
        """
        return self._summarize(self.held_out_predictions(by=by, level=level))

    def cross_validate(
        self, folds: int | None = None, seed: int = 0, level: float = 0.95, by: str = "condition"
    ) -> pd.DataFrame:
        """K-fold cross-validation (hyperparameters fixed), one row per task as :meth:`loo`.

        Folds are made of whole conditions (``by="condition"``: an experiment's tasks and replicates
        leave together) or of the groups of an observations column (``by="study"``, say, for a
        compilation of several laboratories' data: leave-studies-out); see
        :meth:`held_out_predictions`. ``folds=None`` (default) makes :data:`DEFAULT_FOLDS` folds,
        or one per group where there are fewer groups (three studies: leave each study out).
        """
        if by == "observation":
            raise InputDataError(
                "cross_validate groups by 'condition' or a column; use loo() for single observations"
            )
        if folds is None:
            from mtgp_kinetics import model_checking as mc

            labels = mc.condition_groups(self.train_inputs) if by == "condition" else self._column_groups(by)
            folds = min(DEFAULT_FOLDS, len(np.unique(labels)))
        return self._summarize(self.held_out_predictions(by=by, folds=folds, seed=seed, level=level))

    def _summarize(self, points: pd.DataFrame) -> pd.DataFrame:
        from mtgp_kinetics.model_checking import summarize

        points = points.assign(task_index=[self.task_names.index(t) for t in points["task"]])
        return summarize(points, self.task_names)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Save to ``path`` (see :mod:`mtgp_kinetics.persistence`)."""
        from mtgp_kinetics.persistence import save_model

        save_model(self, path)
