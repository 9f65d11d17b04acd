"""Fixed condition values and linear constraints: every suggestion obeys them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.campaign.feasibility import Feasibility, LinearConstraint

SPACE = mk.Space(
    [
        mk.Continuous("T", 400.0, 700.0, unit="K", transform="inverse"),
        mk.Continuous("F_H2", 5.0, 50.0, unit="mL/min", transform="log"),
        mk.Continuous("F_CO", 5.0, 50.0, unit="mL/min"),
        mk.Categorical("catalyst", ["Pd", "Pt", "Ni"]),
    ]
)
TASKS = [mk.Task("rate", unit="1/s", transform="log10", kind="rate")]
RULES = {"fixed": {"catalyst": "Pt"}, "constraints": ["F_H2 + F_CO <= 60", "T - 10*F_CO >= 200"]}


def oracle(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["rate"] = 10.0 ** (3.0 - 1500.0 / frame["T"] + 0.3 * np.log(frame["F_H2"]) - 0.01 * frame["F_CO"])
    return out


def obeys(frame: pd.DataFrame) -> np.ndarray:
    return (
        (frame["catalyst"] == "Pt").to_numpy()
        & (frame["F_H2"] + frame["F_CO"] <= 60.0 + 1e-6).to_numpy()
        & (frame["T"] - 10.0 * frame["F_CO"] >= 200.0 - 1e-6).to_numpy()
    )


def test_constraints_are_read_from_text():
    c = LinearConstraint.parse("2*x - 0.5 * y >= -1")
    assert c.coefficients == {"x": 2.0, "y": -0.5} and c.sense == ">=" and c.rhs == -1.0
    assert LinearConstraint.parse(str(c)) == c
    for bad, message in [
        ("x + y", "one '<=' or '>='"),
        ("x y <= 2", "cannot read 'y'"),
        ("x <= a", "number"),
    ]:
        with pytest.raises(mk.InputDataError, match=message):
            LinearConstraint.parse(bad)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"fixed": {"P": 1.0}}, "unknown condition 'P'"),
        ({"fixed": {"T": 900.0}}, r"'T' must be a number in \[400, 700\]"),
        ({"fixed": {"catalyst": "Rh"}}, "'Rh' is not a level of 'catalyst'"),
        ({"constraints": ["catalyst <= 1"]}, "'catalyst' is categorical"),
        ({"constraints": ["F_H2 + F_CO <= 5"]}, "obey"),  # nothing in the box is feasible
    ],
)
def test_bad_rules_are_named(rules, message):
    with pytest.raises(mk.InputDataError, match=message):
        Feasibility(SPACE, **rules)


def test_bounds_mode_suggestions_obey_fixed_values_and_constraints(tmp_path):
    campaign = Campaign.create(tmp_path / "c.db", SPACE, TASKS, kernel="independent", restarts=1, **RULES)
    first = campaign.suggest(q=4)  # Sobol phase: no model yet
    assert obeys(first).all()
    campaign.observe(oracle(first[SPACE.names]).assign(suggestion_id=first["suggestion_id"].to_numpy()))
    later = campaign.suggest(q=3)  # model-based integrated variance over the feasible region
    assert later["strategy"].iloc[0] == "integrated_variance"
    assert obeys(later).all()
    campaign.close()
    reopened = Campaign.open(tmp_path / "c.db")  # the rules are stored with the campaign
    assert reopened.feasibility.settings() == Feasibility(SPACE, **RULES).settings()
    reopened.close()


def test_pool_rows_that_break_a_rule_are_never_suggested(tmp_path):
    pool = SPACE.sample(300, seed=5)
    campaign = Campaign.create(
        tmp_path / "p.db", SPACE, TASKS, pool=pool, kernel="independent", restarts=1, **RULES
    )
    picks = campaign.suggest(q=5)
    assert obeys(picks).all()
    campaign.observe(oracle(picks[SPACE.names]).assign(suggestion_id=picks["suggestion_id"].to_numpy()))
    assert obeys(campaign.suggest(q=2)).all()
    campaign.close()
    with pytest.raises(mk.InputDataError, match="no row of the pool"):
        Campaign.create(tmp_path / "q.db", SPACE, TASKS, pool=pool[~obeys(pool)], **RULES)
    with pytest.raises(mk.InputDataError, match="pool must be a non-empty DataFrame"):
        Campaign.create(tmp_path / "r.db", SPACE, TASKS, pool=pool.iloc[:0], **RULES)


def test_the_region_is_where_experiments_can_run(tmp_path):
    """Variance is integrated, and stopping rules and status judge the model, over feasible points only."""
    box = Campaign.create(tmp_path / "b.db", SPACE, TASKS, **RULES)
    assert obeys(box.region(64)).all() and len(box.region(64)) == 64
    box.close()
    pool = SPACE.sample(300, seed=5)
    pooled = Campaign.create(tmp_path / "p.db", SPACE, TASKS, pool=pool, **RULES)
    region = pooled.region(1000)
    assert obeys(region).all() and len(region) == int(obeys(pool).sum())  # every feasible row
    assert len(pooled.region(10)) == 10
    pooled.close()
    plain = Campaign.create(tmp_path / "n.db", SPACE, TASKS)
    pd.testing.assert_frame_equal(plain.region(16, seed=3), SPACE.sample(16, seed=3))
    plain.close()


def test_pool_and_fixed_values_are_suggested_exactly_as_given(tmp_path):
    # Through the model coordinates 5 mL/min of a log-modelled flow comes back as 4.999999999999999,
    # which a lab sheet would show; suggestions carry the pool's and the fixed values as given.
    pool = pd.DataFrame(
        {"T": [400.0, 450.0, 500.0, 550.0, 600.0, 650.0], "F_H2": [5.0, 7.0, 11.0, 13.0, 17.0, 19.0]}
    ).assign(F_CO=5.0, catalyst="Pd")
    camp = Campaign.create(tmp_path / "pool.db", SPACE, TASKS, pool=pool, strategy="sobol")
    batch = camp.suggest(q=4)
    chosen = pool.merge(batch[SPACE.names], on=SPACE.names)
    assert len(chosen) == 4  # every suggested row is a pool row, value for value
    camp = Campaign.create(tmp_path / "fixed.db", SPACE, TASKS, fixed={"F_H2": 5.0}, strategy="sobol")
    assert (camp.suggest(q=3)["F_H2"] == 5.0).all()
    assert (camp.store.suggestions()["F_H2"] == 5.0).all()
