"""The interface every benchmark problem offers: a space, tasks, an oracle and a data sampler.

A problem is an in-silico experiment. :meth:`Problem.evaluate` is the noise-free oracle;
:meth:`Problem.sample` draws a design, evaluates it, adds each task's documented measurement noise
and can hide a task at a fraction of the rows to imitate heterotopic data (not every output is
measured in every experiment).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np
import pandas as pd

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.space import Space
from mtgp_kinetics.tasks import Task


def is_finite_number(value: object) -> bool:
    """Tell whether ``value`` is a finite real number, numpy scalars included (``bool`` excluded)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(float(value))


class Problem(ABC):
    """A benchmark problem: conditions in :attr:`space`, outputs :attr:`tasks`.

    Subclasses set ``name``, ``space`` and ``tasks`` and implement :meth:`evaluate` and
    :attr:`noise_std`; :meth:`sample` is shared.
    """

    name: str
    space: Space
    tasks: list[Task]

    @property
    def task_names(self) -> list[str]:
        """Task names, in the order of the output columns."""
        return [t.name for t in self.tasks]

    @property
    @abstractmethod
    def noise_std(self) -> dict[str, float]:
        """Measurement-noise std of each task in its modelled (transformed) space.

        Noise is Gaussian in that space: a ``log10`` task gets multiplicative (lognormal) noise,
        a ``logit`` task noise that keeps the fraction inside (0, 1).
        """

    @abstractmethod
    def evaluate(self, conditions: pd.DataFrame, progress: bool | None = None) -> pd.DataFrame:
        """Noise-free outputs at the given conditions.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` rows with a column per variable of :attr:`space`, physical units.
        progress : bool or None
            Show a progress bar; ``None`` decides by the amount of work.

        Returns
        -------
        DataFrame
            ``n`` rows, same index: the condition columns (copied) then one column per task,
            physical units.
        """

    def sample(
        self,
        n: int,
        seed: int,
        *,
        observed_fraction: Mapping[str, float] | None = None,
        noise: bool = True,
        method: str = "sobol",
    ) -> pd.DataFrame:
        """Draw a design of ``n`` conditions and measure it.

        Parameters
        ----------
        n : int
            Number of conditions (rows), ``n >= 1``.
        seed : int
            Seeds the design, the noise and the choice of hidden values (independent streams).
        observed_fraction : mapping of str to float, optional
            Fraction in (0, 1] of the rows at which a task is observed, e.g. ``{"f_branch": 0.25}``;
            the others are NaN. Unnamed tasks are observed everywhere. Exactly
            ``max(1, round(fraction * n))`` rows, chosen at random, are observed, and no row is
            left without any task. That is impossible when the counts sum to less than ``n``:
            the uncovered rows then get one extra task each, drawn in proportion to the fractions.
        noise : bool
            Add the measurement noise of :attr:`noise_std` (Gaussian in each task's modelled space).
        method : {"sobol", "uniform"}
            Design, see :meth:`Space.sample <mtgp_kinetics.space.Space.sample>`.

        Returns
        -------
        DataFrame
            ``n`` rows: the condition columns then one column per task, physical units.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputDataError(f"sample: n must be a positive integer, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise InputDataError(f"sample: seed must be an integer, got {seed!r}")
        fractions = self._check_fractions(observed_fraction)
        conditions = self.space.sample(int(n), seed=int(seed), method=method)
        data = self.evaluate(conditions)
        absent = [name for name in self.task_names if name not in data.columns]
        if absent:
            raise InputDataError(
                f"{type(self).__name__}.evaluate returned no column for task(s) {absent}; it must "
                f"return the conditions and one column per task (columns: {list(data.columns)})"
            )
        if noise:
            rng = np.random.default_rng([int(seed), 1])
            stds = self.checked_noise_std()
            for task in self.tasks:
                tf = task.output_transform
                z = tf.forward(data[task.name].to_numpy(dtype=float))
                data[task.name] = tf.inverse(z + stds[task.name] * rng.standard_normal(len(z)))
        if fractions:
            observed = self._observation_mask(int(n), fractions, np.random.default_rng([int(seed), 2]))
            for j, task in enumerate(self.tasks):
                data.loc[~observed[:, j], task.name] = np.nan
        return data

    def checked_noise_std(self) -> Mapping[str, float]:
        """:attr:`noise_std`, refused with :class:`InputDataError` if a task has no entry."""
        stds = self.noise_std
        missing = [name for name in self.task_names if name not in stds]
        if missing:
            raise InputDataError(
                f"{type(self).__name__}.noise_std has no entry for task(s) {missing}; give each "
                f"task's measurement-noise std in its modelled space (got keys {sorted(stds)})"
            )
        return stds

    def _check_fractions(self, observed_fraction: Mapping[str, float] | None) -> dict[str, float]:
        if observed_fraction is None:
            return {}
        if not isinstance(observed_fraction, Mapping):
            raise InputDataError(
                "sample: observed_fraction must be a mapping task name -> fraction, "
                f"got {type(observed_fraction).__name__}"
            )
        unknown = sorted(set(observed_fraction) - set(self.task_names))
        if unknown:
            raise InputDataError(
                f"sample: observed_fraction names unknown task(s) {unknown}; the tasks are {self.task_names}"
            )
        fractions: dict[str, float] = {}
        for name, value in observed_fraction.items():
            try:
                fraction = float(value)
            except (TypeError, ValueError):
                fraction = float("nan")
            if not 0.0 < fraction <= 1.0:
                raise InputDataError(
                    f"sample: observed_fraction[{name!r}] must be in (0, 1], got {value!r}; "
                    "leave a task out of the problem rather than observe it nowhere"
                )
            fractions[name] = fraction
        return fractions

    def _observation_mask(
        self, n: int, fractions: Mapping[str, float], rng: np.random.Generator
    ) -> np.ndarray:
        """Boolean ``n x t`` mask of observed values, with at least one task per row."""
        f = np.array([fractions.get(name, 1.0) for name in self.task_names])
        counts = np.array([max(1, round(fraction * n)) for fraction in f])
        # Every row first gets one "primary" task, drawn without replacement from a pool holding
        # each task as many times as it is to be observed, so no row is empty and no count is
        # exceeded; the remaining observations of each task go to random rows.
        pool = np.repeat(np.arange(len(f)), counts)
        if pool.size >= n:
            primary = rng.permutation(pool)[:n]
        else:
            # Too few observations to cover every row: the uncovered rows get an extra task.
            extra = rng.choice(len(f), size=n - pool.size, p=f / f.sum())
            primary = rng.permutation(np.concatenate([pool, extra]))
        observed = np.zeros((n, len(f)), dtype=bool)
        observed[np.arange(n), primary] = True
        for j, count in enumerate(counts):
            missing = count - int(observed[:, j].sum())
            if missing > 0:
                free = np.flatnonzero(~observed[:, j])
                observed[rng.choice(free, size=missing, replace=False), j] = True
        return observed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, tasks={self.task_names})"
