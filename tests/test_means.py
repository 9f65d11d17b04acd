"""The optional linear ("Arrhenius-aware") task mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk


@pytest.fixture(scope="module")
def arrhenius_model() -> mk.KineticsModel:
    """log10 k = 13 - 4.0 (1000/T): a pure Arrhenius line, one task."""
    space = mk.Space([mk.Continuous("T", 800, 1600, unit="K", transform="inverse")])
    T = np.linspace(800, 1600, 12)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"T": T, "k": 10 ** (13 - 4.0 * 1000 / T + 0.01 * rng.standard_normal(12))})
    data = mk.Dataset.from_frame(frame, space, [mk.Task("k", unit="1/s", transform="log10", kind="rate")])
    return mk.fit(data, kernel="independent", mean="linear", restarts=2)


def test_linear_mean_carries_the_arrhenius_slope(arrhenius_model):
    # Slope in standardized output per normalized 1000/T; back in physical units it is the
    # activation slope d log10 k / d(1000/T) = -4 (data noise 0.01 in log10).
    model = arrhenius_model
    lo, hi = model.space["T"].model_bounds
    slope = float(model.gp.mean_module.slopes.detach()[0, 0]) * float(model.y_std[0]) / (hi - lo)
    assert slope == pytest.approx(-4.0, abs=0.3)
    pred = model.predict(pd.DataFrame({"T": [1000.0]}))
    assert pred["transformed_mean"].iloc[0] == pytest.approx(9.0, abs=0.05)


def test_linear_mean_round_trips_and_is_validated(arrhenius_model, tmp_path, analytic_data):
    arrhenius_model.save(tmp_path / "lin.mtgp")
    loaded = mk.load(tmp_path / "lin.mtgp")
    assert loaded.mean == "linear"
    grid = pd.DataFrame({"T": [850.0, 1234.0]})
    pd.testing.assert_frame_equal(arrhenius_model.predict(grid), loaded.predict(grid), check_exact=True)
    with pytest.raises(mk.InputDataError, match="mean"):
        mk.fit(analytic_data, mean="quadratic")
