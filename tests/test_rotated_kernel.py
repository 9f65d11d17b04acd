"""The rotated Matern kernel and the default model's per-task choice of rotated axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from gpytorch.kernels import MaternKernel

import mtgp_kinetics as mk
from mtgp_kinetics.default_model import STRONG_EVIDENCE, rotation_pays, rotation_penalty
from mtgp_kinetics.models.rotated_kernel import RotatedMaternKernel, rotated_part, rotation_matrix


def test_rotation_matrix_is_a_rotation():
    generator = torch.tensor([0.3, -1.2, 0.8], dtype=torch.float64)
    R = rotation_matrix(generator, 3)
    # Orthogonality and determinant to float64 round-off of a 3 x 3 matrix exponential.
    torch.testing.assert_close(R @ R.T, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-12)
    assert float(torch.linalg.det(R)) == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(rotation_matrix(torch.zeros(3, dtype=torch.float64), 3), torch.eye(3).double())


def test_single_angle_is_a_plane_rotation():
    angle = 0.4
    R = rotation_matrix(torch.tensor([angle], dtype=torch.float64), 2)
    expected = torch.tensor([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    torch.testing.assert_close(R, expected.double(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("nu", [1.5, 2.5])
def test_kernel_is_matern_on_rotated_inputs(nu):
    torch.manual_seed(0)
    x1, x2 = torch.rand(7, 3, dtype=torch.float64), torch.rand(5, 3, dtype=torch.float64)
    rotated = RotatedMaternKernel(nu=nu, ard_num_dims=3).double()
    plain = MaternKernel(nu=nu, ard_num_dims=3).double()
    lengthscale = torch.tensor([[0.2, 0.5, 1.3]], dtype=torch.float64)
    rotated.lengthscale = lengthscale
    plain.lengthscale = lengthscale
    with torch.no_grad():
        # Zero generator: exactly the ARD kernel.
        torch.testing.assert_close(rotated(x1, x2).to_dense(), plain(x1, x2).to_dense(), rtol=0, atol=1e-14)
        rotated.raw_rotation.copy_(torch.tensor([0.5, -0.3, 0.9]))
        R = rotated.rotation
        torch.testing.assert_close(
            rotated(x1, x2).to_dense(), plain(x1 @ R.T, x2 @ R.T).to_dense(), rtol=0, atol=1e-14
        )
        # Stationary: a common shift of both inputs changes nothing.
        shift = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
        torch.testing.assert_close(
            rotated(x1 + shift, x2 + shift).to_dense(), rotated(x1, x2).to_dense(), rtol=0, atol=1e-12
        )


def test_needs_two_dimensions():
    with pytest.raises(ValueError, match="two continuous"):
        RotatedMaternKernel(nu=2.5, ard_num_dims=1)


def test_rotation_rule_is_a_bic_bayes_factor_of_ten():
    assert rotation_penalty(30, 3) == pytest.approx(1.5 * np.log(30))
    assert rotation_penalty(30, 2) == pytest.approx(0.5 * np.log(30))
    table = pd.DataFrame(
        {
            "eligible": [True, True, True, False],
            "axes": [0.0, 0.0, 0.0, 0.0],
            "rotated": [5.0, 5.0 + STRONG_EVIDENCE - 0.01, 5.0 + STRONG_EVIDENCE + 0.01, np.nan],
            "penalty": [5.0, 5.0, 5.0, 5.0],
        }
    )
    assert rotation_pays(table) == [False, False, True, False]


def test_too_few_observations_are_not_rotated():
    # 12 observations of two conditions: below ROTATION_MIN_PER_DIM * 2 = 20, so nothing is refitted.
    model = mk.fit(_diagonal_data(12), check_transfer=False)
    table = model.selection_.rotation
    assert not table["eligible"].any() and not table["chosen"].any()
    assert table["rotated"].isna().all()
    assert not any(lat.rotated for lat in model.kernel.latents)


def _diagonal_data(n: int = 40, seed: int = 0) -> mk.Dataset:
    """Task ``ridge`` changes steeply across the diagonal x - y of the unit square; ``flat`` along x."""
    space = mk.Space([mk.Continuous("x", 0.0, 1.0), mk.Continuous("y", 0.0, 1.0)])
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(size=n), rng.uniform(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "y": y,
            "ridge": np.tanh(6.0 * (x - y)) + 0.02 * rng.standard_normal(n),
            "flat": np.sin(3.0 * x) + 0.02 * rng.standard_normal(n),
        }
    )
    tasks = [mk.Task("ridge"), mk.Task("flat")]
    return mk.Dataset.from_frame(frame, space, tasks)


def _held_out_rmse(model: mk.KineticsModel, task: str, truth_of_difference) -> float:
    """RMSE of ``task``'s predicted mean on 300 uniform points, truth a function of ``x - y``."""
    rng = np.random.default_rng(5)
    grid = pd.DataFrame({"x": rng.uniform(size=300), "y": rng.uniform(size=300)})
    prediction = model.predict(grid)
    mean = prediction.loc[prediction["task"] == task, "mean"].to_numpy()
    truth = truth_of_difference((grid["x"] - grid["y"]).to_numpy())
    return float(np.sqrt(np.mean((mean - truth) ** 2)))


def test_default_model_rotates_only_the_task_with_a_diagonal_structure():
    data = _diagonal_data()
    model = mk.fit(data, check_transfer=False)
    table = model.selection_.rotation.set_index("task")
    # The ridge varies along one diagonal direction only: a rotated kernel describes it with one
    # short lengthscale, and the evidence for it is overwhelming (tens of nats on 40 points).
    assert table.loc["ridge", "chosen"]
    assert not table.loc["flat", "chosen"]
    rotated = [lat.rotated for lat in model.kernel.latents if lat.tasks != "shared"]
    assert rotated == [True, False]
    # And it predicts the ridge better than the axis-aligned GP does on new points.
    axis = mk.fit(data, kernel="independent", check_transfer=False)
    errors = [_held_out_rmse(m, "ridge", lambda d: np.tanh(6.0 * d)) for m in (model, axis)]
    # Measured at this seed: RMSE 0.059 against 0.072 (ratio 0.82); 0.9 leaves room for optimizer
    # and platform differences but fails if the rotation stops paying.
    assert errors[0] < 0.9 * errors[1]


def test_rotated_model_round_trips_through_save_and_load(tmp_path):
    data = _diagonal_data(24)
    spec = mk.KernelSpec("independent", (mk.LatentSpec(0, rotated=True), mk.LatentSpec(1)))
    model = mk.fit(data, kernel=spec, restarts=1, check_transfer=False)
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = mk.load(path)
    grid = pd.DataFrame({"x": [0.1, 0.5, 0.9], "y": [0.7, 0.5, 0.2]})
    pd.testing.assert_frame_equal(model.predict(grid), loaded.predict(grid))


def test_nuts_holds_rotated_axes_at_map_and_round_trips(tmp_path):
    data = _diagonal_data(24)
    spec = mk.KernelSpec("independent", (mk.LatentSpec(0, rotated=True), mk.LatentSpec(1)))
    with pytest.warns(mk.ConvergenceWarning):  # chains this short are not expected to converge
        model = mk.fit(
            data, spec, method="nuts", restarts=1, num_warmup=10, num_samples=10, num_chains=2, progress=False
        )
    kernel = rotated_part(model.base.gp)
    assert not kernel.raw_rotation.requires_grad
    assert not any("rotation" in name for name in model.coords.names)
    assert "rotation" not in model.inference_data.posterior
    path = tmp_path / "bayes.mtgp"
    model.save(path)
    loaded = mk.load(path)
    grid = pd.DataFrame({"x": [0.1, 0.5, 0.9], "y": [0.7, 0.5, 0.2]})
    loaded.max_predictive_draws = model.max_predictive_draws
    pd.testing.assert_frame_equal(loaded.predict(grid), model.predict(grid))


def _shared_direction_data(seed: int = 2) -> mk.Dataset:
    """``ridge`` (40 rows) and a sparse ``along`` (14 rows) that both vary along x - y only."""
    space = mk.Space([mk.Continuous("x", 0.0, 1.0), mk.Continuous("y", 0.0, 1.0)])
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(size=40), rng.uniform(size=40)
    frame = pd.DataFrame(
        {
            "x": x,
            "y": y,
            "ridge": np.tanh(6.0 * (x - y)) + 0.02 * rng.standard_normal(40),
            "along": np.sin(4.0 * (x - y)) + 0.05 * rng.standard_normal(40),
        }
    )
    frame.loc[14:, "along"] = np.nan
    return mk.Dataset.from_frame(frame, space, [mk.Task("ridge"), mk.Task("along")])


def test_sparse_task_borrows_the_dense_task_axes():
    data = _shared_direction_data()
    model = mk.fit(data, check_transfer=False)
    table = model.selection_.rotation.set_index("task")
    # 14 observations of two conditions: too few to learn an angle (20), enough to borrow one (10).
    assert not table.loc["along", "eligible"]
    assert table.loc["along", "borrowed_from"] == "ridge"
    assert model.kernel.name == "independent"
    kernels = [rotated_part(k) for k in model.gp.covar_module.input_kernels]
    torch.testing.assert_close(kernels[1].raw_rotation, kernels[0].raw_rotation, rtol=0, atol=0)
    assert not kernels[1].raw_rotation.requires_grad  # held, also in the Laplace term
    axis = mk.fit(data, kernel="independent", check_transfer=False)
    errors = [_held_out_rmse(m, "along", lambda d: np.sin(4.0 * d)) for m in (model, axis)]
    # Measured: RMSE 0.091 against 0.183 at this seed (0.178 against 0.264 at seed 3).
    assert errors[0] < 0.8 * errors[1]


def test_borrowed_axes_stay_held_after_save_and_load(tmp_path):
    model = mk.fit(_shared_direction_data(), check_transfer=False)
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = mk.load(path)
    held = [name for name, p in loaded.gp.named_parameters() if not p.requires_grad]
    assert held == [name for name, p in model.gp.named_parameters() if not p.requires_grad]
    assert any("raw_rotation" in name for name in held)
    grid = pd.DataFrame({"x": [0.1, 0.5, 0.9], "y": [0.7, 0.5, 0.2]})
    # Same predictive, hyperparameter-uncertainty term included (it depends on what is held).
    pd.testing.assert_frame_equal(loaded.predict(grid), model.predict(grid))


def test_a_kept_shared_private_model_takes_the_rotated_private_processes():
    from mtgp_kinetics.default_model import (
        Selection,
        _fitted,
        _independent_with_chosen_smoothness,
        _with_rotation,
        shared_private_spec,
    )

    data = _shared_direction_data()
    independent, smoothness = _independent_with_chosen_smoothness(data, 1, 300, 0, "constant")
    chosen = list(smoothness["chosen"])
    # As if steps 2-5 had kept a shared+private model on axis-aligned kernels.
    kept = _fitted(data, shared_private_spec((0, 1), 2, chosen), 1, 300, 0, warm_start=independent)
    selection = Selection(kept.kernel, smoothness=smoothness)
    model = _with_rotation(data, kept, independent, selection, 300, 0, "constant")
    assert model.kernel.name == "shared+private"
    assert [lat.rotated for lat in model.kernel.latents] == [False, True, True]
    assert list(selection.rotation["borrowed_from"]) == ["", "ridge"]
    assert model.selection_ is selection and selection.kernel == model.kernel
    prediction = model.predict(pd.DataFrame({"x": [0.2, 0.8], "y": [0.6, 0.1]}))
    assert np.isfinite(prediction[["mean", "lower", "upper"]].to_numpy()).all()
