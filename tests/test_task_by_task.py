"""Independent GPs fitted one task at a time reach the joint fit's optimum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.fitting import fit_map
from mtgp_kinetics.models.structure import KernelSpec
from mtgp_kinetics.task_by_task import fit_model, fit_task_by_task, task_model


def test_task_model_holds_only_its_tasks_rows(analytic_data):
    model = mk.KineticsModel.from_dataset(analytic_data, KernelSpec.independent())
    single = task_model(model, 1)
    counts = analytic_data.counts()
    assert single.train_targets.shape[-1] == counts["f_a"]
    assert set(single.train_inputs[:, -1].round().long().tolist()) == {1}
    # The same per-task standardization as the joint model.
    assert float(single.y_mean[1]) == pytest.approx(float(model.y_mean[1]), abs=1e-12)
    assert float(single.y_std[1]) == pytest.approx(float(model.y_std[1]), abs=1e-12)


def test_task_by_task_fit_matches_the_joint_fit(analytic_data):
    """Same objective (tolerance: L-BFGS-B stops at ftol 1e-7 relative) and same predictions."""
    joint = mk.KineticsModel.from_dataset(analytic_data, KernelSpec.independent())
    joint.fit_result_ = fit_map(joint.gp, restarts=2, seed=0)
    split = mk.KineticsModel.from_dataset(analytic_data, KernelSpec.independent())
    result = fit_task_by_task(split, restarts=2, seed=0)
    assert split.fit_result_ is result
    assert result.neg_log_posterior == pytest.approx(joint.fit_result_.neg_log_posterior, abs=1e-5)
    conditions = analytic_data.space.sample(40, seed=5)
    a, b = joint.predict(conditions), split.predict(conditions)
    # 1e-3 standardized units: hyperparameters agree to the optimizer's tolerance, not exactly.
    np.testing.assert_allclose(a["transformed_mean"], b["transformed_mean"], atol=1e-3)
    np.testing.assert_allclose(a["transformed_std"], b["transformed_std"], atol=1e-3)
    assert any(m.startswith("task 'f_a'") for m in result.messages)


def test_task_by_task_refuses_a_shared_structure(analytic_data):
    model = mk.KineticsModel.from_dataset(analytic_data, KernelSpec.icm())
    with pytest.raises(InputDataError, match="shares latent processes"):
        fit_task_by_task(model)


def test_fit_model_goes_task_by_task_for_large_separable_data(analytic_data, monkeypatch):
    import mtgp_kinetics.task_by_task as tbt

    monkeypatch.setattr(tbt, "TASK_BY_TASK_FROM", 10)
    model = mk.KineticsModel.from_dataset(analytic_data, KernelSpec.independent())
    result = fit_model(model, restarts=1)
    assert all(m.startswith("task ") for m in result.messages)
    assert model.fit_result_ is result
    shared = mk.KineticsModel.from_dataset(analytic_data, KernelSpec.icm())
    assert not any(m.startswith("task ") for m in fit_model(shared, restarts=1).messages)


def test_a_task_without_observations_keeps_its_start(analytic_data):
    data = analytic_data.subset(analytic_data.task_indices() == 0)
    model = mk.KineticsModel.from_dataset(data, KernelSpec.independent())
    start = model.gp.covar_module.input_kernels[1].state_dict()
    fit_task_by_task(model, restarts=1)
    after = model.gp.covar_module.input_kernels[1].state_dict()
    assert all(bool((start[k] == after[k]).all()) for k in start)
    assert not any("f_a" in m for m in model.fit_result_.messages)


def test_a_held_parameter_stays_held_task_by_task(analytic_data):
    """A parameter held in the joint model (a borrowed rotation; here a lengthscale) stays held per task."""
    model = mk.KineticsModel.from_dataset(analytic_data, KernelSpec.independent())
    raw = model.gp.covar_module.input_kernels[0].raw_lengthscale
    with torch.no_grad():
        raw.fill_(1.5)  # a long lengthscale, far from where the data put it
    raw.requires_grad_(False)
    held = raw.detach().clone()
    assert not task_model(model, 0).gp.covar_module.input_kernels[0].raw_lengthscale.requires_grad
    fit_task_by_task(model, restarts=1)
    assert torch.equal(model.gp.covar_module.input_kernels[0].raw_lengthscale.detach(), held)
    # The other task's kernel was fitted.
    assert model.gp.covar_module.input_kernels[1].raw_lengthscale.requires_grad
