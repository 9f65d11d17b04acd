"""Loaders of the real data sets under ../shared/data/: counts, quirks handled, files untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.datasets import FRACTION_BOUNDS, load_baumgartner, load_butanol, load_reizman
from mtgp_kinetics.datasets.replay import checkpoints, replay, split_rows

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BUTANOL = DATA / "chemked_butanol_ignition"
REIZMAN = DATA / "reizman_suzuki_cases_1_3"
BAUMGARTNER = DATA / "baumgartner_cn_coupling"

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"the real data sets are not at {DATA} (../shared/data beside the repository)"
)


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "data.csv").read_bytes()).hexdigest()


def test_butanol_counts_flags_and_file_unchanged():
    before = _digest(BUTANOL)
    with pytest.warns(mk.DataWarning, match=r"42 row\(s\) with a qc_flag left out"):
        loaded = load_butanol(BUTANOL)
    assert _digest(BUTANOL) == before
    assert len(loaded.raw) == 525
    counts = loaded.data.counts().to_dict()
    assert counts == {
        "tau_ign_n_butanol_us": 197,
        "tau_ign_i_butanol_us": 110,
        "tau_ign_2_butanol_us": 112,
        "tau_ign_t_butanol_us": 64,
    }
    assert loaded.frame["qc_flag"].isna().all()
    assert [t.transform for t in loaded.data.tasks] == ["log10"] * 4
    assert loaded.data.space["T_K"].transform == "inverse"
    # log10 of the delay in microseconds: the measured range is 1e1..1.5e4 us.
    z = loaded.data.train_targets().numpy()
    assert 1.0 < z.min() and z.max() < 4.3


def test_butanol_flagged_rows_kept_on_request():
    loaded = load_butanol(BUTANOL, include_flagged=True)
    assert loaded.data.n_observations == 525
    assert loaded.notes == []


def test_reizman_case_tasks_clip_the_floor():
    before = _digest(REIZMAN)
    with pytest.warns(mk.DataWarning, match=r"62 value\(s\) below 0.01"):
        loaded = load_reizman(REIZMAN)
    assert _digest(REIZMAN) == before
    assert loaded.data.counts().to_dict() == {"yield_case1": 96, "yield_case2": 96, "yield_case3": 96}
    values = loaded.data.observations["value"]
    assert values.min() == FRACTION_BOUNDS[0] and values.max() <= FRACTION_BOUNDS[1]
    catalyst = loaded.data.space["catalyst"]
    assert isinstance(catalyst, mk.Categorical) and len(catalyst.levels) == 8
    assert loaded.data.space["t_res_s"].transform == "log"
    assert np.isfinite(loaded.data.train_targets().numpy()).all()


def test_reizman_output_tasks_raise_zero_ton():
    with pytest.warns(mk.DataWarning) as record:
        loaded = load_reizman(REIZMAN, tasks="output")
    assert any("10 value(s) of 0 raised" in str(w.message) for w in record)
    assert loaded.data.counts().to_dict() == {"yield": 288, "ton": 288}
    assert loaded.data.observations.query("task == 'ton'")["value"].min() > 0
    assert "case" in loaded.data.space.names


def test_baumgartner_censored_rows_left_out_and_bounds_clipped():
    before = _digest(BAUMGARTNER)
    with pytest.warns(mk.DataWarning) as record:
        loaded = load_baumgartner(BAUMGARTNER)
    assert _digest(BAUMGARTNER) == before
    messages = " | ".join(str(w.message) for w in record)
    assert "14 censored row(s)" in messages
    assert "63 value(s) below 0.01 and 27 above 0.99" in messages
    assert loaded.data.counts().to_dict() == {
        "yield_aniline": 131,
        "yield_benzamide": 70,
        "yield_morpholine": 67,
        "yield_phenethylamine": 92,
    }
    assert not loaded.frame["id"].isin(loaded.raw.loc[loaded.raw["censored"].notna(), "id"]).any()
    assert set(loaded.frame["base"]) <= set(loaded.data.space["base"].levels)
    assert "Triethylamine" in set(loaded.raw["base"])  # the source spelling is still there


def test_baumgartner_output_tasks():
    with pytest.warns(mk.DataWarning):
        loaded = load_baumgartner(BAUMGARTNER, tasks="output")
    assert loaded.data.counts().to_dict() == {"yield": 360, "conversion": 349}


def test_bad_arguments_name_the_problem(tmp_path: Path):
    with pytest.raises(mk.InputDataError, match="no data file"):
        load_butanol(tmp_path)
    with pytest.raises(mk.InputDataError, match="tasks must be 'case' or 'output'"):
        load_reizman(REIZMAN, tasks="catalyst")
    with pytest.raises(mk.InputDataError, match="tasks must be 'nucleophile' or 'output'"):
        load_baumgartner(BAUMGARTNER, tasks="base")
    broken = pd.read_csv(REIZMAN / "data.csv").drop(columns=["temperature_C"])
    broken.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(mk.InputDataError, match="temperature_C"):
        load_reizman(tmp_path)


def test_generic_csv_path_matches_the_loader(tmp_path: Path):
    """A user's own CSV through Dataset.from_csv gives the same observations as the loader."""
    with pytest.warns(mk.DataWarning):
        loaded = load_butanol(BUTANOL)
    csv = tmp_path / "mine.csv"
    loaded.frame.to_csv(csv, index=False)
    data = mk.Dataset.from_csv(csv, loaded.data.space, loaded.data.tasks)
    assert data.counts().equals(loaded.data.counts())
    np.testing.assert_allclose(data.train_targets().numpy(), loaded.data.train_targets().numpy())


def test_replay_split_and_a_tiny_replay():
    with pytest.warns(mk.DataWarning):
        data = load_reizman(REIZMAN).data
    test, start, rest = split_rows(data, 0.25, 8, seed=0)
    assert len(test) == 72 and len(start) == 8 and len(start) + len(rest) == 216
    assert not set(test) & (set(start) | set(rest))
    tasks_at_start = data.observations.set_index("row").loc[start, "task"].value_counts()
    assert (tasks_at_start >= 2).all() and len(tasks_at_start) == 3
    assert checkpoints(8, 216, 2) == [8, 112, 216]
    small = data.subset(np.isin(data.observations["row"], np.concatenate([test[:20], start, rest[:30]])))
    result = replay(small, kernel="independent", restarts=1, max_iter=30, steps=2, n_start=6, seed=1)
    assert set(result.needed["order"]) == {"strategy", "random"}
    pool = result.needed["pool_rows"].iloc[0]
    assert ((result.needed["rows_needed"] > 0) & (result.needed["rows_needed"] <= pool)).all()
    assert len(result.picks) == pool and len(set(result.picks)) == pool
    last = result.curves[result.curves["rows"] == pool]
    # Both orders end with the same rows, hence the same model and the same scores.
    assert np.allclose(*last.groupby("order")["rmse"].apply(lambda s: s.to_numpy()).to_list())


@pytest.mark.slow
# Three measured yields lie 4.0-4.7 leave-one-out standard deviations out (rows 79, 131, 268): the
# fit says so (OutlierWarning), which is not what this test checks.
@pytest.mark.filterwarnings("ignore::mtgp_kinetics.OutlierWarning")
def test_default_model_shares_on_reizman_and_gains_by_experiment():
    # A measured set on which sharing pays: the three Suzuki cases move together. The default
    # model keeps a shared process and its 5-fold NLPD by experiment beats independent GPs on
    # every case (measured: by 0.043, 0.064, 0.072 nats; docs/real_data.md). The 0.02 margin is
    # about a third of the smallest gain and above the 0.001 run-to-run change of these figures.
    # Guards the shared+private fit itself: a cheaper fit of it once lost this (session 9).
    with pytest.warns(mk.DataWarning):
        data = load_reizman(REIZMAN).data
    default = mk.fit(data, restarts=2, seed=0)
    independent = mk.fit(data, kernel="independent", restarts=2, seed=0)
    assert default.kernel.name == "shared+private"
    a = default.cross_validate(folds=5, seed=0).set_index("task")["nlpd"]
    b = independent.cross_validate(folds=5, seed=0).set_index("task")["nlpd"]
    assert ((a - b) < -0.02).all(), (a - b).to_dict()
