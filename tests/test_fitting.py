"""MAP fitting: the objective, restarts, jitter escalation and numerical failures."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest
import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

import mtgp_kinetics as mk
from mtgp_kinetics.fitting import fit_map, neg_log_posterior


@pytest.mark.parametrize("kernel", ["icm", "lmc", "independent"])
def test_objective_equals_gpytorch_exact_mll_with_priors(analytic_data, kernel):
    model = mk.KineticsModel.from_dataset(analytic_data, mk.models.structure.kernel_spec(kernel))
    gp = model.gp
    gp.train()
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    with torch.no_grad():
        reference = -mll(gp(*gp.train_inputs), gp.train_targets, *gp.train_inputs)
        ours = neg_log_posterior(gp)
    # Same float64 quantity computed by two factorizations.
    assert abs(float(ours) - float(reference)) < 1e-10


def test_fit_improves_objective_and_keeps_best_start(analytic_data):
    model = mk.KineticsModel.from_dataset(analytic_data, mk.KernelSpec.lmc())
    with torch.no_grad():
        before = float(neg_log_posterior(model.gp))
    result = fit_map(model.gp, restarts=3, seed=0)
    assert result.neg_log_posterior < before
    assert len(result.restart_objectives) == 3
    assert result.neg_log_posterior == min(result.restart_objectives)
    with torch.no_grad():
        assert float(neg_log_posterior(model.gp)) == pytest.approx(result.neg_log_posterior, abs=1e-12)
    assert result.jitter == 0.0


def test_fit_is_deterministic_for_a_seed(analytic_data):
    a = mk.fit(analytic_data, kernel="icm", restarts=2, seed=3)
    b = mk.fit(analytic_data, kernel="icm", restarts=2, seed=3)
    assert a.fit_result_.restart_objectives == b.fit_result_.restart_objectives


def _duplicate_conditions_data() -> mk.Dataset:
    """Exact replicates of noise-free values under a tiny noise bound: a singular joint covariance."""
    space = mk.Space([mk.Continuous("x", 0.0, 1.0)])
    frame = pd.DataFrame({"x": [0.1, 0.1, 0.5, 0.5, 0.9, 0.9, 0.3], "y": [1.0, 1.0, 2.0, 2.0, 0.5, 0.5, 1.5]})
    # Known noise far below float64 resolution of the kernel matrix forces a Cholesky failure.
    frame["y_sd"] = 1e-12
    tasks = [mk.Task("y", noise_column="y_sd")]
    with pytest.warns(mk.DataWarning, match="3 row\\(s\\) repeat an earlier row in every cell"):
        return mk.Dataset.from_frame(frame, space, tasks)


def test_cholesky_failure_is_repaired_with_jitter_and_reported():
    data = _duplicate_conditions_data()
    with pytest.warns(mk.NumericsWarning, match="jitter"):
        model = mk.fit(data, kernel="independent", restarts=1)
    assert model.fit_result_.jitter > 0
    assert any("failed" in m for m in model.fit_result_.messages)
    pred = model.predict(pd.DataFrame({"x": [0.2, 0.7]}))
    assert pred[["mean", "std", "lower", "upper"]].notna().all().all()


def test_fit_that_fails_at_every_jitter_raises_numerics_error():
    data = _duplicate_conditions_data()
    model = mk.KineticsModel.from_dataset(data, mk.KernelSpec.independent())
    with pytest.raises(mk.NumericsError, match="jitter"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_map(model.gp, restarts=1, jitters=(0.0,))


def test_fit_rejects_bad_arguments(analytic_data):
    with pytest.raises(mk.InputDataError, match="kernel"):
        mk.fit(analytic_data, kernel="bogus")
    with pytest.raises(mk.InputDataError, match="restarts"):
        mk.fit(analytic_data, restarts=0)
    with pytest.raises(mk.InputDataError, match="method"):
        mk.fit(analytic_data, method="vi")


def test_fitting_restores_torch_thread_count(analytic_data):
    before = torch.get_num_threads()
    mk.fit(analytic_data, kernel="icm", restarts=1)
    assert torch.get_num_threads() == before
    assert math.isfinite(before)


def test_fit_that_stops_at_max_iter_is_reported(analytic_data):
    with pytest.warns(mk.ConvergenceWarning, match="max_iter"):
        model = mk.fit(analytic_data, kernel="lmc", restarts=1, max_iter=2, check_transfer=False)
    assert not model.fit_result_.converged


def test_lengthscales_and_noise_stay_above_their_bounds(fitted):
    for model in fitted.values():
        for kernel in model.gp.covar_module.input_kernels:
            assert float(kernel.lengthscale.detach().min()) >= 0.025
        assert float(model.gp.likelihood.noise_covar.noise.detach().min()) >= 1e-6
        assert model.fit_result_.converged


def test_variances_have_a_floor_so_priors_stay_defined(fitted):
    """A softplus-constrained variance once underflowed to 0.0, where its LogNormal prior is undefined."""
    for model in fitted.values():
        for task_cov in model.gp.covar_module.task_covariances:
            B = task_cov.matrix().detach()
            owned = B.diagonal()[B.diagonal() != 0]
            assert float(owned.min()) >= 1e-6


def test_single_threaded_limits_torch_and_blas_and_restores_them():
    """Inside, torch and every BLAS pool run one thread (idle OpenBLAS workers spin and slow the
    fits 3x on 2 cores); afterwards the previous settings are back."""
    from threadpoolctl import threadpool_info

    from mtgp_kinetics.fitting import single_threaded

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    torch_before, blas_before = torch.get_num_threads(), blas_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
        assert blas_threads() and all(n == 1 for n in blas_threads())
    assert torch.get_num_threads() == torch_before
    assert blas_threads() == blas_before
