"""Tasks with a known-noise column use those variances, fixed, instead of a learned noise level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    T = np.linspace(900, 1500, 16)
    tau = 1e-6 * np.exp(8000 / T)
    frame = pd.DataFrame(
        {
            "T": T,
            "tau": tau * np.exp(0.05 * rng.standard_normal(16)),
            "tau_sd": 0.05 * tau * np.where(np.arange(16) % 2 == 0, 1.0, 2.0),  # 5 % and 10 %
            "f": 1 / (1 + np.exp(-(T - 1200) / 150)),
        }
    )
    frame.loc[::2, "f"] = np.nan
    return frame


SPACE = mk.Space([mk.Continuous("T", 900, 1500, unit="K", transform="inverse")])
TASKS = [
    mk.Task("tau", unit="s", transform="log10", kind="rate", noise_column="tau_sd"),
    mk.Task("f", transform="logit", kind="mechanism"),
]
# Delta method at the observed value: std of log10(tau) = tau_sd / (tau ln 10).
KNOWN_VAR = (_frame()["tau_sd"] / (_frame()["tau"] * np.log(10))).to_numpy() ** 2


@pytest.fixture(scope="module")
def noisy_model() -> mk.KineticsModel:
    return mk.fit(mk.Dataset.from_frame(_frame(), SPACE, TASKS), kernel="lmc", restarts=1)


def test_training_noise_is_the_delta_method_variance(noisy_model):
    gp = noisy_model.gp
    X = gp.train_inputs[0]
    diag = gp.likelihood.noise_covar(X).diagonal().detach()
    tau_rows = X[:, -1] == 0
    expected = KNOWN_VAR
    # Standardized units: divide by the task's standardization variance.
    scale = float(noisy_model.y_std[0]) ** 2
    np.testing.assert_allclose(diag[tau_rows].numpy() * scale, expected, rtol=1e-12)
    # The learned task keeps one learned level for all its rows.
    f_noise = diag[~tau_rows].numpy()
    np.testing.assert_allclose(f_noise, f_noise[0], rtol=0)


def test_new_measurement_noise_is_the_median_known_noise(noisy_model):
    noise = noisy_model.noise_std()
    median_var = np.median(KNOWN_VAR)
    assert noise["tau"] == pytest.approx(np.sqrt(median_var), rel=1e-10)
    conditions = pd.DataFrame({"T": [1000.0, 1300.0]})
    latent = noisy_model.predict(conditions, tasks=["tau"])
    noisy = noisy_model.predict(conditions, tasks=["tau"], observation_noise=True)
    np.testing.assert_allclose(
        noisy["transformed_std"] ** 2, latent["transformed_std"] ** 2 + median_var, rtol=1e-8
    )


def _understated_frame(stated: float, true: float, n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A smooth Arrhenius delay with ``true`` relative scatter whose stated std is ``stated``."""
    rng = np.random.default_rng(seed)
    T = np.linspace(900, 1500, n)
    tau = 1e-6 * np.exp(8000 / T)
    return pd.DataFrame({"T": T, "tau": tau * np.exp(true * rng.standard_normal(n)), "tau_sd": stated * tau})


def test_excess_noise_learns_what_the_stated_stds_leave_out():
    task = mk.Task("tau", unit="s", transform="log10", kind="rate", noise_column="tau_sd", excess_noise=True)
    assert mk.Task.from_dict(task.to_dict()).excess_noise
    exact = mk.Task("tau", unit="s", transform="log10", kind="rate", noise_column="tau_sd")
    frame = _understated_frame(stated=0.02, true=0.10)  # 2 % stated, 10 % real scatter
    with_excess = mk.fit(mk.Dataset.from_frame(frame, SPACE, [task]), restarts=1)
    trusted = mk.fit(mk.Dataset.from_frame(frame, SPACE, [exact]), restarts=1)
    # log10 std of the real scatter: 0.10 / ln 10 = 0.043; the stated one is 0.0087.
    assert 0.025 < with_excess.noise_std()["tau"] < 0.07
    assert trusted.noise_std()["tau"] < 0.01
    # Where the stated stds are right, the excess stays small (its prior's median is a std of 0.03
    # standardized units).
    honest = mk.fit(mk.Dataset.from_frame(_understated_frame(0.10, 0.10), SPACE, [task]), restarts=1)
    assert honest.noise_std()["tau"] < 1.15 * 0.10 / np.log(10)


def test_excess_noise_needs_known_noise():
    with pytest.raises(mk.InputDataError, match="noise_column"):
        mk.Task("tau", excess_noise=True)
