"""A simulated laboratory for :meth:`Campaign.run`: a problem's truth plus its measurement noise."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from mtgp_kinetics.problems.base import Problem


class NoisyOracle:
    """Measure conditions with a built-in problem: noise-free values plus the problem's noise.

    The noise is Gaussian in each task's modelled space with std ``problem.noise_std[task]`` (as in
    :meth:`Problem.sample`), drawn from a generator seeded by ``seed`` and the conditions, so the
    same conditions give the same measurement whatever order or process they are measured in.

    Parameters
    ----------
    problem : Problem
        E.g. :class:`~mtgp_kinetics.problems.H2O2Ignition`.
    seed : int
        Seed of the noise.
    noise : bool
        ``False``: return the noise-free values.
    """

    def __init__(self, problem: Problem, seed: int = 0, noise: bool = True) -> None:
        self.problem = problem
        self.seed = int(seed)
        self.noise = bool(noise)

    def __call__(self, conditions: pd.DataFrame) -> pd.DataFrame:
        """``n`` rows of conditions (physical units) -> ``n`` rows: conditions and one column per task."""
        out = self.problem.evaluate(conditions, progress=False)
        if not self.noise:
            return out
        stds = self.problem.noise_std
        for i in range(len(out)):
            row = conditions.iloc[i][self.problem.space.names].to_numpy()
            digest = hashlib.sha256(repr([self.seed, *map(str, row)]).encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            for task in self.problem.tasks:
                tf = task.output_transform
                z = tf.forward(np.array([float(out[task.name].iloc[i])]))
                out.loc[out.index[i], task.name] = float(
                    tf.inverse(z + stds[task.name] * rng.standard_normal(1))[0]
                )
        return out
