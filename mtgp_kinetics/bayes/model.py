"""The fully Bayesian model: the API of :class:`~mtgp_kinetics.KineticsModel`, averaged over draws.

:class:`BayesianKineticsModel` composes a fitted :class:`~mtgp_kinetics.KineticsModel` (the MAP fit
NUTS started from, in the sampler's coordinates) with the NUTS draws of its hyperparameters. Every
prediction is made by that model at each of up to ``max_predictive_draws`` draws (evenly thinned
from all chains), then mixed with equal weights: the predictive of a GP whose hyperparameters are
uncertain is the mixture ``p(y | x, D) = (1/K) sum_k N(y; mu_k(x), s_k(x)^2)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from mtgp_kinetics.back_transform import _GH_NODES, _GH_WEIGHTS
from mtgp_kinetics.bayes import arviz_io
from mtgp_kinetics.bayes.coordinates import Coordinates, use_sampling_priors
from mtgp_kinetics.bayes.mixture import mixture_cdf, mixture_logpdf, mixture_moments, mixture_quantile
from mtgp_kinetics.bayes.quantities import DIMS, coordinates_of, quantities
from mtgp_kinetics.bayes.sampler import NutsDraws
from mtgp_kinetics.errors import ConvergenceWarning, InputDataError, check_integer, check_probability
from mtgp_kinetics.fitting import FitResult, single_threaded
from mtgp_kinetics.frame_parsing import _check_task_values
from mtgp_kinetics.model import OUTLIER_Z, KineticsModel
from mtgp_kinetics.models.gp import CoregionalGP
from mtgp_kinetics.models.structure import KernelSpec
from mtgp_kinetics.space import Space

if TYPE_CHECKING:
    import arviz as az

    from mtgp_kinetics.dataset import Dataset

#: Default number of draws the predictions mix (evenly thinned from all chains).
MAX_PREDICTIVE_DRAWS = 128
#: R-hat above this, bulk or tail ESS below ``MIN_ESS_PER_CHAIN`` per chain, or any divergence warns.
MAX_RHAT = 1.01
MIN_ESS_PER_CHAIN = 100
MIN_BFMI = 0.3


class BayesianKineticsModel:
    """A multi-task GP with its hyperparameters integrated out by NUTS.

    Parameters
    ----------
    base : KineticsModel
        The fitted model whose GP the draws belong to (its parameters are the MAP point).
    draws : NutsDraws
        The sampler's output.
    max_predictive_draws : int
        Draws mixed in predictions (evenly spaced over all chains and draws).

    Attributes
    ----------
    base : KineticsModel
        As given; ``base.gp`` is set to a draw only inside a prediction and restored after.
    draws : NutsDraws
        Unconstrained coordinates ``chains x draws x p`` and sampler statistics.
    """

    def __init__(
        self, base: KineticsModel, draws: NutsDraws, max_predictive_draws: int = MAX_PREDICTIVE_DRAWS
    ):
        self.base = base
        self.draws = draws
        self.coords = Coordinates(base.gp)
        if draws.z.ndim != 3 or draws.z.shape[-1] != self.coords.dim:
            raise InputDataError(
                f"draws have shape {draws.z.shape}; this model needs chains x draws x {self.coords.dim}"
            )
        self.max_predictive_draws = int(max_predictive_draws)
        self._map_u = self.coords.current()

    # -- basic facts (as KineticsModel) --------------------------------------------------------
    @property
    def space(self) -> Space:
        """The conditions."""
        return self.base.space

    @property
    def tasks(self) -> tuple:
        """The tasks, in model order."""
        return self.base.tasks

    @property
    def kernel(self) -> KernelSpec:
        """The coregionalization structure (:class:`~mtgp_kinetics.KernelSpec`)."""
        return self.base.kernel

    @property
    def gp(self) -> CoregionalGP:
        """The base GP at the MAP point (botorch model, standardized units)."""
        return self.base.gp

    @property
    def num_tasks(self) -> int:
        """``t``."""
        return self.base.num_tasks

    @property
    def task_names(self) -> list[str]:
        """Task names in model order."""
        return self.base.task_names

    @property
    def train_inputs(self) -> torch.Tensor:
        """``n x (d + 1)`` model inputs."""
        return self.base.train_inputs

    @property
    def fit_result_(self) -> FitResult | None:
        """The MAP fit NUTS started from."""
        return self.base.fit_result_

    @property
    def data(self) -> Dataset | None:
        """The training data (``None`` for a model built from tensors)."""
        return self.base.data

    @property
    def mean(self) -> str:
        """The mean function of every task (``"constant"`` or ``"linear"``)."""
        return self.base.mean

    @property
    def train_targets(self) -> torch.Tensor:
        """``n`` standardized targets."""
        return self.base.train_targets

    @property
    def y_mean(self) -> torch.Tensor:
        """Per-task mean of the transformed targets (``t``), as in the MAP model."""
        return self.base.y_mean

    @property
    def y_std(self) -> torch.Tensor:
        """Per-task std of the transformed targets (``t``), as in the MAP model."""
        return self.base.y_std

    def __repr__(self) -> str:
        chains, n_draws, _ = self.draws.z.shape
        return (
            f"BayesianKineticsModel(kernel={self.kernel.name!r}, tasks={self.task_names}, "
            f"n={self.train_inputs.shape[0]}, NUTS {chains} chains x {n_draws} draws)"
        )

    # -- draws -----------------------------------------------------------------------------------
    @property
    def flat_draws(self) -> np.ndarray:
        """All draws, ``(chains draws) x p``, chain-major."""
        return self.draws.z.reshape(-1, self.draws.z.shape[-1])

    def predictive_draws(self) -> np.ndarray:
        """The ``K x p`` draws predictions mix (at most ``max_predictive_draws``, evenly spaced)."""
        flat = self.flat_draws
        K = min(self.max_predictive_draws, flat.shape[0])
        index = np.unique(np.linspace(0, flat.shape[0] - 1, K).round().astype(int))
        return flat[index]

    @contextmanager
    def at_draw(self, u: np.ndarray) -> Iterator[KineticsModel]:
        """The base model with the hyperparameters of draw ``u`` (``p``), restored on exit."""
        self.coords.assign(torch.as_tensor(u, dtype=torch.float64))
        self.base.gp.prediction_strategy = None  # gpytorch's cached solve belongs to other values
        try:
            yield self.base
        finally:
            self.coords.assign(self._map_u)
            # Without this, model.gp (the MAP point) would predict with the last draw's solve.
            self.base.gp.prediction_strategy = None

    def _per_draw(self, fn: Any) -> list[Any]:
        """``fn(model)`` at each predictive draw, on one torch thread (many small solves)."""
        out = []
        with single_threaded():
            for u in self.predictive_draws():
                with self.at_draw(u) as model:
                    out.append(fn(model))
        return out

    # -- predictions -----------------------------------------------------------------------------
    def predict(
        self,
        conditions: pd.DataFrame,
        level: float = 0.95,
        observation_noise: bool = False,
        tasks: Sequence[str] | None = None,
        hyperparameter_uncertainty: bool | None = None,
    ) -> pd.DataFrame:
        """Posterior-averaged prediction of every task at each condition, in physical units.

        Parameters and columns as :meth:`KineticsModel.predict`, for the mixture over draws
        (``hyperparameter_uncertainty`` is accepted so that code written for a MAP model runs, and
        has no effect: the mixture over hyperparameter draws is that uncertainty):
        ``transformed_mean``/``transformed_std`` are its mean and std in the modelled space;
        ``mean`` is its median mapped back (the median of a log or logit task), ``lower``/``upper``
        its central ``level`` quantiles mapped back (exact: the transforms are monotone), and
        ``std`` the std of the physical quantity under the mixture (Gauss-Hermite per draw).
        """
        level = check_probability(level)
        # Each draw predicts at its own hyperparameters: no Laplace correction (the draws are it).
        frames = self._per_draw(
            lambda m: m.predict(conditions, level, observation_noise, tasks, hyperparameter_uncertainty=False)
        )
        mu = np.stack([f["transformed_mean"].to_numpy() for f in frames])
        s = np.stack([f["transformed_std"].to_numpy() for f in frames])
        frame = frames[0].drop(
            columns=["mean", "std", "lower", "upper", "transformed_mean", "transformed_std"]
        )
        mean, std = mixture_moments(mu, s)
        median = mixture_quantile(0.5, mu, s)
        low = mixture_quantile(0.5 - level / 2.0, mu, s)
        high = mixture_quantile(0.5 + level / 2.0, mu, s)
        mean_phys, std_phys = np.empty_like(mean), np.empty_like(mean)
        lower, upper = np.empty_like(mean), np.empty_like(mean)
        task_of_row = frame["task"].to_numpy()
        for task in self.tasks:
            rows = task_of_row == task.name
            if not rows.any():
                continue
            tf = task.output_transform
            mean_phys[rows] = tf.inverse(median[rows])
            lower[rows], upper[rows] = tf.inverse(low[rows]), tf.inverse(high[rows])
            # Physical moments of each component by quadrature, then the mixture's (total variance).
            y = tf.inverse(mu[:, rows, None] + s[:, rows, None] * _GH_NODES)
            first = (y * _GH_WEIGHTS).sum(-1)
            second = (y**2 * _GH_WEIGHTS).sum(-1)
            std_phys[rows] = np.sqrt(np.clip(second.mean(0) - first.mean(0) ** 2, 0.0, None))
        frame["mean"] = mean_phys
        frame["std"] = std_phys
        frame["lower"] = lower
        frame["upper"] = upper
        frame["transformed_mean"] = mean
        frame["transformed_std"] = std
        return frame

    def test_scores(self, conditions: pd.DataFrame, truth: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
        """Accuracy and calibration of the latent mixture predictive against known true values.

        The counterpart of :func:`mtgp_kinetics.model_checking.held_out_scores` for the mixture:
        ``nlpd`` is the negative log density of the mixture ``(1/K) sum_k N(mu_k, s_k^2)`` itself
        (the Bayesian predictive), not of a Gaussian with its moments, which is wider than the
        mixture where the draws disagree and so scores it unfairly.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` test conditions (physical units).
        truth : DataFrame
            ``n`` rows, one column per scored task: true (noise-free) values in physical units, in
            the order of ``conditions``. Tasks without a column are skipped.
        level : float
            Probability of the central interval whose coverage is reported.

        Returns
        -------
        DataFrame
            One row per task (index ``task``): ``rmse`` of the mixture mean and ``nlpd`` of the
            mixture in modelled units (log10 s, logit...), ``coverage`` of its central ``level``
            interval (the ``lower``/``upper`` of :meth:`predict`).
        """
        level = check_probability(level)
        if not isinstance(truth, pd.DataFrame) or len(truth) != len(conditions):
            raise InputDataError(
                f"test_scores: truth must be a DataFrame with one row per condition ({len(conditions)}), "
                f"got {type(truth).__name__} with {len(truth)} rows"
            )
        index, mu, s = self.predict_draws(conditions)
        rows = []
        for task in self.tasks:
            if task.name not in truth.columns:
                continue
            values = truth[task.name].to_numpy(dtype=float)
            try:
                _check_task_values(task, values, truth.index, task.name)
            except InputDataError as err:
                raise InputDataError(f"test_scores: truth {err}") from None
            where = (index["task"] == task.name).to_numpy()
            z = task.output_transform.forward(values)
            mean, _ = mixture_moments(mu[:, where], s[:, where])
            low = mixture_quantile(0.5 - level / 2.0, mu[:, where], s[:, where])
            high = mixture_quantile(0.5 + level / 2.0, mu[:, where], s[:, where])
            rows.append(
                {
                    "task": task.name,
                    "rmse": float(np.sqrt(np.mean((z - mean) ** 2))),
                    "nlpd": float(-np.mean(mixture_logpdf(z, mu[:, where], s[:, where]))),
                    "coverage": float(np.mean((z >= low) & (z <= high))),
                }
            )
        return pd.DataFrame(rows).set_index("task")

    def predict_draws(
        self, conditions: pd.DataFrame, observation_noise: bool = False, tasks: Sequence[str] | None = None
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Per-draw Gaussian predictive in the modelled space.

        Returns
        -------
        index : DataFrame
            ``N`` rows (condition-major): the condition columns and ``task``.
        mean, std : ndarray
            ``K x N`` per-draw means and stds (transformed units).
        """
        frames = self._per_draw(
            lambda m: m.predict(conditions, 0.95, observation_noise, tasks, hyperparameter_uncertainty=False)
        )
        index = frames[0][[*self.space.names, "task"]]
        mu = np.stack([f["transformed_mean"].to_numpy() for f in frames])
        s = np.stack([f["transformed_std"].to_numpy() for f in frames])
        return index, mu, s

    def predict_joint(
        self,
        conditions: pd.DataFrame,
        observation_noise: bool = False,
        tasks: Sequence[str] | None = None,
        hyperparameter_uncertainty: bool | None = None,
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Mean and covariance of the mixture over all (condition, task) pairs (modelled space).

        ``hyperparameter_uncertainty`` has no effect (see :meth:`predict`).

        The mixture is not Gaussian; these are its first two moments (law of total covariance):
        ``cov = mean_k(C_k) + cov_k(m_k)``. Use :meth:`sample` for draws from the mixture itself.
        """
        results = self._per_draw(
            lambda m: m.predict_joint(conditions, observation_noise, tasks, hyperparameter_uncertainty=False)
        )
        means = np.stack([r[1] for r in results])
        mean = means.mean(0)
        centred = means - mean
        cov = np.mean([r[2] for r in results], axis=0) + centred.T @ centred / means.shape[0]
        return results[0][0], mean, cov

    def sample(
        self,
        conditions: pd.DataFrame,
        n_samples: int = 100,
        seed: int | None = None,
        observation_noise: bool = False,
        physical: bool = True,
        tasks: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Joint samples (``s x n x t``) of the posterior-averaged model: a draw, then a GP sample.

        Each sample picks one of the predictive draws uniformly at random and is a joint Gaussian
        sample of that draw's GP (as :meth:`KineticsModel.sample`, with its ``tasks``), so samples
        carry both the uncertainty of the functions and of the hyperparameters.
        """
        n_samples = check_integer(n_samples, "n_samples", 1)
        rng = np.random.default_rng(seed)
        draws = self.predictive_draws()
        counts = rng.multinomial(n_samples, np.full(len(draws), 1.0 / len(draws)))
        parts = []
        for u, count in zip(draws, counts, strict=True):
            if count:
                # Only draws that were picked are visited; each is one joint predictive.
                with self.at_draw(u) as model:
                    child = int(rng.integers(2**31))
                    # The draws carry the hyperparameter uncertainty: no Laplace term on top.
                    parts.append(
                        model.sample(
                            conditions,
                            int(count),
                            child,
                            observation_noise,
                            physical,
                            hyperparameter_uncertainty=False,
                            tasks=tasks,
                        )
                    )
        samples = np.concatenate(parts)
        return samples[rng.permutation(samples.shape[0])]

    # -- task structure and hyperparameters --------------------------------------------------------
    @cached_property
    def _quantity_draws(self) -> dict[str, np.ndarray]:
        """Every quantity of :mod:`~mtgp_kinetics.bayes.quantities`, ``chains x draws x ...``."""
        chains, n_draws, _ = self.draws.z.shape
        per_draw: dict[str, list[np.ndarray]] = {}
        for u in self.flat_draws:
            with self.at_draw(u) as model:
                for name, value in quantities(model).items():
                    per_draw.setdefault(name, []).append(value)
        return {name: np.stack(v).reshape(chains, n_draws, *v[0].shape) for name, v in per_draw.items()}

    def _labelled(self, matrix: np.ndarray) -> pd.DataFrame:
        names = pd.Index(self.task_names, name="task")
        return pd.DataFrame(matrix, index=names, columns=names.rename("task_"))

    def task_correlation(self) -> pd.DataFrame:
        """Posterior mean of the task correlation at one condition, ``t x t`` labelled DataFrame."""
        corr = self._quantity_draws["task_correlation"]
        return self._labelled(corr.reshape(-1, *corr.shape[2:]).mean(0))

    def task_covariance(self) -> pd.DataFrame:
        """Posterior mean of the task covariance at one condition (standardized transformed units)."""
        cov = self._quantity_draws["task_covariance"]
        return self._labelled(cov.reshape(-1, *cov.shape[2:]).mean(0))

    def task_correlation_summary(self, level: float = 0.95) -> pd.DataFrame:
        """Posterior of each pair's task correlation.

        Returns
        -------
        DataFrame
            One row per pair ``task`` < ``task_`` (model order): ``mean``, ``median``, ``lower``,
            ``upper`` (equal-tailed ``level`` credible interval), ``prob_positive`` and ``shared``
            (False where every draw is exactly 0: the structure does not couple the pair).
        """
        level = check_probability(level)
        corr = self._quantity_draws["task_correlation"]
        flat = corr.reshape(-1, *corr.shape[2:])
        rows = []
        names = self.task_names
        for i in range(self.num_tasks):
            for j in range(i + 1, self.num_tasks):
                x = flat[:, i, j]
                rows.append(
                    {
                        "task": names[i],
                        "task_": names[j],
                        "mean": float(x.mean()),
                        "median": float(np.median(x)),
                        "lower": float(np.quantile(x, 0.5 - level / 2)),
                        "upper": float(np.quantile(x, 0.5 + level / 2)),
                        "prob_positive": float((x > 0).mean()),
                        "shared": bool(np.any(x != 0.0)),
                    }
                )
        return pd.DataFrame(
            rows, columns=["task", "task_", "mean", "median", "lower", "upper", "prob_positive", "shared"]
        )

    def noise_std(self) -> pd.Series:
        """Posterior mean noise std of each task (transformed units)."""
        noise = self._quantity_draws["noise_std"]
        values = noise.reshape(-1, noise.shape[-1]).mean(0)
        return pd.Series(values, index=pd.Index(self.task_names, name="task"), name="noise_std")

    # -- ArviZ -------------------------------------------------------------------------------------
    @cached_property
    def inference_data(self) -> az.InferenceData:
        """The draws as an ``arviz.InferenceData``.

        Groups: ``posterior`` (named quantities, see :mod:`~mtgp_kinetics.bayes.quantities`),
        ``sample_stats`` (``diverging``, ``tree_depth``, ``n_steps``, ``energy``, ``lp``,
        ``step_size``), ``observed_data`` (``y``: observations in transformed units) and
        ``constant_data`` (``observation_task``: the task of each observation).
        """
        task_index = self.train_inputs[:, -1].round().long().numpy()
        dims = {name: DIMS[name] for name in self._quantity_draws}
        dims.update({"y": ("observation",), "observation_task": ("observation",)})
        coords = coordinates_of(self.base)
        coords["observation"] = list(range(len(task_index)))
        settings = self.draws.settings
        return arviz_io.to_inference_data(
            posterior=self._quantity_draws,
            dims=dims,
            coords=coords,
            sample_stats=self.draws.stats,
            observed={"y": self.base.train_targets.numpy()},
            constant={"observation_task": np.asarray(self.task_names)[task_index]},
            attrs={
                "kernel": self.kernel.name,
                "sampler": "pyro NUTS",
                "num_warmup": settings.num_warmup,
                "num_samples": settings.num_samples,
                "num_chains": settings.num_chains,
                "thin": settings.thin,
                "target_accept_prob": settings.target_accept_prob,
                "max_tree_depth": settings.max_tree_depth,
                "full_mass": settings.full_mass,
                "seed": self.draws.seed,
                "sampling_seconds": self.draws.seconds,
            },
        )

    def diagnostics(self, warn: bool = True) -> pd.DataFrame:
        """R-hat, bulk and tail ESS per parameter, with divergences and BFMI.

        Parameters
        ----------
        warn : bool
            Emit a :class:`~mtgp_kinetics.ConvergenceWarning` naming the parameters with R-hat >
            1.01 or ESS below 100 per chain, and reporting divergences and BFMI < 0.3.

        Returns
        -------
        DataFrame
            Columns ``parameter``, ``mean``, ``sd``, ``r_hat``, ``ess_bulk``, ``ess_tail``;
            ``attrs["divergences"]``, ``attrs["bfmi"]`` (per chain), ``attrs["draws"]``.
        """
        frame = arviz_io.diagnostics(self.inference_data)
        if warn:
            problems = convergence_problems(frame)
            if problems:
                # ICM has fewer hyperparameters than LMC or shared+private; a structure that
                # shares nothing (chosen because sharing did not pay) should not be told to share.
                fewer = (
                    ", or a structure with fewer hyperparameters (kernel='icm')"
                    if self.kernel.shares_tasks and self.kernel.name != "icm"
                    else ""
                )
                warnings.warn(
                    "NUTS may not have converged: " + "; ".join(problems) + ". Run longer chains "
                    f"(num_warmup, num_samples){fewer}.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        return frame

    def plot_trace(self, var_names: Sequence[str] | None = None) -> Any:
        """ArviZ trace plot of the named quantities (default: all)."""
        return arviz_io.plot_trace(self.inference_data, var_names)

    def plot_rank(self, var_names: Sequence[str] | None = None) -> Any:
        """ArviZ rank plot of the named quantities (default: all)."""
        return arviz_io.plot_rank(self.inference_data, var_names)

    def plot_task_correlation(self, level: float = 0.95) -> Any:
        """Posterior of each pair's task correlation (ArviZ ``plot_posterior``)."""
        return arviz_io.plot_task_correlation(self.inference_data, check_probability(level))

    # -- model checking ----------------------------------------------------------------------------
    def held_out_predictions(
        self, by: str = "observation", folds: int | None = None, seed: int = 0, level: float = 0.95
    ) -> pd.DataFrame:
        """Exact held-out predictive of each observation at every draw, mixed over the draws.

        Each draw's predictive is exact (:meth:`KineticsModel.held_out_predictions`, same
        ``by``, ``folds`` and ``seed``); the draws themselves are not refitted without the held-out
        points, so this is the usual hyperparameters-fixed approximation, per draw.

        Returns
        -------
        DataFrame
            ``n`` rows: ``task``, ``observed``, ``mean``, ``std`` (mixture moments, modelled
            units), ``log_density`` (of the mixture) and ``inside`` (the central ``level`` interval).
        """
        frames = self._per_draw(lambda m: m.held_out_predictions(by=by, folds=folds, seed=seed, level=level))
        mu = np.stack([f["mean"].to_numpy() for f in frames])
        s = np.stack([f["std"].to_numpy() for f in frames])
        observed = frames[0]["observed"].to_numpy()
        mean, std = mixture_moments(mu, s)
        cdf = mixture_cdf(observed, mu, s)
        return pd.DataFrame(
            {
                "task": frames[0]["task"].to_numpy(),
                "observed": observed,
                "mean": mean,
                "std": std,
                "log_density": mixture_logpdf(observed, mu, s),
                "inside": (cdf >= 0.5 - level / 2) & (cdf <= 0.5 + level / 2),
            }
        )

    def outliers(self, threshold: float = OUTLIER_Z, refit: int = 0) -> pd.DataFrame:
        """Observations whose leave-one-out residual under the posterior mixture exceeds ``threshold``.

        As :meth:`KineticsModel.outliers <mtgp_kinetics.model.KineticsModel.outliers>`, with each
        observation's held-out mean and std those of the mixture over the draws
        (:meth:`held_out_predictions`). ``refit`` refits the MAP hyperparameters without each of
        the ``refit`` most suspicious observations (NUTS is not rerun).
        """
        from mtgp_kinetics.outliers import outlier_table

        return outlier_table(self, threshold, refit)

    def latent_task_covariances(self) -> list[pd.DataFrame]:
        """Posterior mean of the coregionalization matrix ``B_q`` of each latent process (``t x t``)."""
        per_draw = self._per_draw(lambda m: [B.to_numpy() for B in m.latent_task_covariances()])
        return [
            self._labelled(np.mean([draw[q] for draw in per_draw], axis=0)) for q in range(len(per_draw[0]))
        ]

    def hyperparameter_uncertainty(self) -> None:
        """Not for a NUTS model: its predictions already integrate over the hyperparameters.

        Raises
        ------
        InputDataError
            Always.
        """
        raise InputDataError(
            "hyperparameter_uncertainty is the MAP model's Laplace approximation; a NUTS model's "
            "predictions already average over its posterior draws"
        )

    def cross_validate(self, *args: Any, **kwargs: Any) -> None:
        """Not for a NUTS model: k-fold refits would rerun the sampler once per fold.

        Raises
        ------
        InputDataError
            Always, naming the alternatives.
        """
        raise InputDataError(
            "cross_validate refits the model on each fold, which for a NUTS model means one sampler "
            "run per fold; use loo(by='condition') (each draw's exact held-out predictive, mixed) or "
            "cross-validate the MAP fit: model.base.cross_validate(...)"
        )

    def loo(self, level: float = 0.95, by: str = "observation") -> pd.DataFrame:
        """Leave-one-out check per task (``task``, ``n``, ``rmse``, ``nlpd``, ``coverage``) of the mixture."""
        from mtgp_kinetics.model_checking import summarize

        points = self.held_out_predictions(by=by, level=level)
        points = points.assign(task_index=[self.task_names.index(t) for t in points["task"]])
        return summarize(points, self.task_names)

    # -- persistence -------------------------------------------------------------------------------
    def posterior_archive(self) -> dict[str, Any]:
        """The draws as plain tensors and numbers, for :func:`mtgp_kinetics.persistence.save_model`."""
        settings = self.draws.settings
        return {
            "z": torch.as_tensor(self.draws.z),
            "stats": {
                name: torch.as_tensor(np.asarray(v, dtype=np.float64)) for name, v in self.draws.stats.items()
            },
            "seconds": float(self.draws.seconds),
            "seed": int(self.draws.seed),
            "messages": list(self.draws.messages),
            "settings": {k: v for k, v in settings.__dict__.items()},
            "max_predictive_draws": self.max_predictive_draws,
        }

    @classmethod
    def from_archive(cls, base: KineticsModel, archive: dict[str, Any]) -> BayesianKineticsModel:
        """Inverse of :meth:`posterior_archive` (``base`` loaded with its full-rank task covariances)."""
        from mtgp_kinetics.bayes.sampler import NutsSettings

        stats = {name: value.numpy() for name, value in archive["stats"].items()}
        stats["diverging"] = stats["diverging"].astype(bool)
        for name in ("tree_depth", "n_steps"):
            stats[name] = stats[name].astype(np.int64)
        for module in base.gp.modules():
            if hasattr(module, "raw_kappa"):
                module.raw_kappa.requires_grad_(False)
        use_sampling_priors(base.gp)
        draws = NutsDraws(
            z=archive["z"].numpy(),
            stats=stats,
            seconds=float(archive["seconds"]),
            settings=NutsSettings(**archive["settings"]),
            seed=int(archive["seed"]),
            messages=list(archive["messages"]),
        )
        return cls(base, draws, int(archive["max_predictive_draws"]))

    def save(self, path: str) -> None:
        """Save the model and its draws (see :mod:`mtgp_kinetics.persistence`)."""
        from mtgp_kinetics.persistence import save_model

        save_model(self.base, path, posterior=self.posterior_archive())


def convergence_problems(frame: pd.DataFrame) -> list[str]:
    """What :meth:`BayesianKineticsModel.diagnostics` warns about, one sentence per kind of problem."""
    problems = []
    chains = frame.attrs.get("draws", (1, 1))[0]
    if chains < 2:
        # Split R-hat compares chains: with one it is undefined (NaN), not "too high".
        problems.append(
            "R-hat cannot be computed from a single chain, so convergence is unchecked: "
            "sample with num_chains >= 2"
        )
    else:
        high = frame.loc[~(frame["r_hat"] <= MAX_RHAT), "parameter"].tolist()  # NaN counts as a problem
        if high:
            problems.append(f"R-hat > {MAX_RHAT} for {', '.join(high)}")
    min_ess = MIN_ESS_PER_CHAIN * chains
    low = frame.loc[~(frame[["ess_bulk", "ess_tail"]].min(axis=1) >= min_ess), "parameter"].tolist()
    if low:
        problems.append(f"bulk or tail ESS < {min_ess} for {', '.join(low)}")
    if frame.attrs.get("divergences", 0):
        problems.append(f"{frame.attrs['divergences']} divergent transition(s) after warm-up")
    bfmi = [b for b in frame.attrs.get("bfmi", []) if not b >= MIN_BFMI]
    if bfmi:
        problems.append(f"BFMI < {MIN_BFMI} in {len(bfmi)} chain(s)")
    return problems
