"""A deliberately non-identifiable model: the diagnostics must warn, naming what is not identified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.bayes import NutsSettings, fit_nuts


@pytest.mark.slow
def test_replicates_at_one_condition_leave_lengthscales_unidentified() -> None:
    # Every experiment at the same conditions: the data say nothing about how the outputs vary
    # with T or P, so the lengthscales' posterior is their heavy-tailed prior, which short chains
    # cannot agree on; the diagnostics must say so and name them. (Tree depth capped at 5 to keep
    # the test short: a capped NUTS chain is still a valid, if slower-mixing, sampler.)
    space = mk.Space(
        [mk.Continuous("T", 800, 1200, unit="K", transform="inverse"), mk.Continuous("P", 1, 10)]
    )
    tasks = [mk.Task("a"), mk.Task("b")]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"T": 1000.0, "P": 3.0, "a": 1.0 + 0.1 * rng.standard_normal(8)})
    frame["b"] = 2.0 * frame["a"] + 0.1 * rng.standard_normal(8)
    data = mk.Dataset.from_frame(frame, space, tasks)
    settings = NutsSettings(num_warmup=30, num_samples=30, num_chains=2, max_tree_depth=5)
    with pytest.warns(mk.ConvergenceWarning, match=r"NUTS may not have converged") as record:
        fit_nuts(data, "icm", restarts=1, settings=settings, progress=False)
    message = " ".join(str(w.message) for w in record)
    assert "lengthscale[0, T]" in message and "lengthscale[0, P]" in message
