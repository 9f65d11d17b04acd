"""Save/load: exact round trips, and refusal of unsafe, corrupted or unknown files."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics import persistence


@pytest.mark.parametrize("kernel", ["icm", "lmc", "independent"])
def test_round_trip_gives_identical_predictions(fitted, tmp_path, kernel):
    model = fitted[kernel]
    path = tmp_path / "m.mtgp"
    model.save(path)
    loaded = mk.load(path)
    grid = model.space.sample(9, seed=2)
    pd.testing.assert_frame_equal(model.predict(grid), loaded.predict(grid), check_exact=True)
    pd.testing.assert_frame_equal(model.task_correlation(), loaded.task_correlation(), check_exact=True)
    assert loaded.kernel == model.kernel
    assert loaded.tasks == model.tasks and loaded.space == model.space
    assert loaded.fit_result_.neg_log_posterior == model.fit_result_.neg_log_posterior
    assert loaded.data is not None and loaded.data.n_observations == model.data.n_observations


def test_default_model_with_rotated_axes_round_trips(tmp_path):
    """The README's quickstart: the default model on 30 H2/O2 rows gives the delay rotated axes."""
    from mtgp_kinetics.problems import H2O2Ignition

    problem = H2O2Ignition()
    frame = problem.sample(30, seed=0, observed_fraction={"f_branch": 0.25})
    model = mk.fit(mk.Dataset.from_frame(frame, problem.space, problem.tasks), seed=0)
    assert any(latent.rotated for latent in model.kernel.latents)
    model.save(tmp_path / "h2o2.mtgp")
    loaded = mk.load(tmp_path / "h2o2.mtgp")
    assert loaded.kernel == model.kernel
    grid = problem.space.sample(5, seed=3)
    pd.testing.assert_frame_equal(model.predict(grid), loaded.predict(grid), check_exact=True)
    # Why the default model has this structure is kept too (it was lost on loading before session 15).
    kept, read = model.selection_, loaded.selection_
    assert read.kernel == kept.kernel and read.opted_out == kept.opted_out
    assert read.log_posterior_gains == kept.log_posterior_gains
    assert read.icm_log_posterior_gain == kept.icm_log_posterior_gain
    for a, b in [(kept.smoothness, read.smoothness), (kept.icm, read.icm), (kept.rotation, read.rotation)]:
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert len(read.rounds) == len(kept.rounds)
    for a, b in zip(kept.rounds, read.rounds, strict=True):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_saving_into_a_missing_folder_names_it(fitted, tmp_path):
    with pytest.raises(mk.ModelFileError, match=r"no folder .*nowhere"):
        fitted["icm"].save(tmp_path / "nowhere" / "m.mtgp")


def test_latent_spec_holds_plain_python_values():
    """numpy scalars from a selection table become plain values, which JSON can write."""
    import json

    import numpy as np

    spec = mk.LatentSpec(np.int64(1), rank=np.int64(1), nu=np.float64(1.5), rotated=np.True_)
    assert spec == mk.LatentSpec(1, rank=1, nu=1.5, rotated=True)
    assert json.dumps([spec.tasks, spec.rank, spec.nu, spec.rotated]) == "[1, 1, 1.5, true]"


def test_unfitted_model_cannot_be_saved(analytic_data, tmp_path):
    model = mk.KineticsModel.from_dataset(analytic_data, mk.KernelSpec.icm())
    with pytest.raises(mk.NotFittedError):
        model.save(tmp_path / "m.mtgp")


class _RunsCodeOnUnpickle:
    """Unpickling this object would create a marker file (a stand-in for arbitrary code)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_file_crafted_to_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.mtgp"
    torch.save(
        {"format": persistence.FORMAT_NAME, "format_version": 1, "payload": _RunsCodeOnUnpickle(str(marker))},
        path,
    )
    with pytest.raises(mk.ModelFileError, match="refusing"):
        mk.load(path)
    assert not marker.exists()


def test_unknown_format_version_is_refused(fitted, tmp_path):
    path = tmp_path / "m.mtgp"
    fitted["icm"].save(path)
    archive = torch.load(path, weights_only=True)
    archive["format_version"] = 99
    torch.save(archive, path)
    with pytest.raises(mk.ModelFileError, match="version 99"):
        mk.load(path)


def test_corrupted_and_foreign_files_are_refused(fitted, tmp_path):
    path = tmp_path / "m.mtgp"
    fitted["icm"].save(path)
    truncated = tmp_path / "truncated.mtgp"
    truncated.write_bytes(path.read_bytes()[:500])
    with pytest.raises(mk.ModelFileError, match="corrupted"):
        mk.load(truncated)
    for content in ("not a model", "hello", "T,P\n900,1\n"):  # "hello" made torch.load raise KeyError
        text = tmp_path / "notes.mtgp"
        text.write_text(content)
        with pytest.raises(mk.ModelFileError, match=r"not an mtgp_kinetics model file .*a text file"):
            mk.load(text)
    foreign = tmp_path / "foreign.mtgp"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(mk.ModelFileError, match="not an mtgp_kinetics model"):
        mk.load(foreign)
    with pytest.raises(mk.ModelFileError, match="no model file"):
        mk.load(tmp_path / "missing.mtgp")
    assert zipfile.is_zipfile(path)


def test_state_without_a_newer_prior_loads_and_a_missing_parameter_does_not(fitted):
    from mtgp_kinetics.persistence import _load_weights

    model = fitted["icm"]
    state = model.gp.state_dict()
    # A file written before the mean got its prior lacks the prior's constants: still loads.
    older = {k: v for k, v in state.items() if "constant_prior" not in k}
    assert len(older) < len(state)
    _load_weights(model, older)
    # A missing hyperparameter means the file does not describe this model.
    damaged = {k: v for k, v in state.items() if k != "mean_module.raw_constant"}
    with pytest.raises(ValueError, match="raw_constant"):
        _load_weights(model, damaged)
