"""Tests of mtgp_kinetics.problems: the Cantera oracles, the ignition cache, the analytic problem."""

from __future__ import annotations

import sqlite3

import cantera as ct
import numpy as np
import pandas as pd
import pytest

from mtgp_kinetics.errors import InputDataError, NumericsError
from mtgp_kinetics.problems import (
    AnalyticKinetics,
    H2O2Ignition,
    MethylHydroxylChannels,
    Problem,
    get_problem,
)
from mtgp_kinetics.problems import h2o2 as h2o2_module
from mtgp_kinetics.problems.cache import CacheWarning, ResultCache, condition_key


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # Every test starts from an empty cache of its own, never the user's.
    monkeypatch.setenv("MTGP_KINETICS_CACHE", str(tmp_path / "cache"))


def _frame(rows, columns=("T", "P", "phi")):
    return pd.DataFrame(rows, columns=list(columns))


def _trapezoid(y, t):
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t)))


# -- an independent reference: a plain Cantera run written here, not using the package --
def _reference_ignition(T, P_atm, phi, dilution=0.93):
    """Time of max dT/dt (finite differences of the stepped temperatures) and branching fraction."""
    gas = ct.Solution("h2o2.yaml")
    x = 1.0 - dilution
    gas.TPX = (
        T,
        P_atm * ct.one_atm,
        {"H2": x * 2 * phi / (2 * phi + 1), "O2": x / (2 * phi + 1), "AR": dilution},
    )
    kwargs = {"clone": False} if tuple(map(int, ct.__version__.split(".")[:2])) >= (3, 2) else {}
    reactor = ct.IdealGasReactor(gas, **kwargs)
    net = ct.ReactorNet([reactor])
    net.rtol, net.atol = 1e-10, 1e-16
    equations = [r.equation for r in gas.reactions()]
    branch = [i for i, eq in enumerate(equations) if eq == "H + O2 <=> O + OH"]
    recomb = [i for i, eq in enumerate(equations) if eq.startswith("H + O2 ") and "HO2" in eq]
    t, temps, qb, qr = [0.0], [T], [0.0], [0.0]
    after = 0
    while after < 300:  # run well past the temperature rise (>= 400 K at these conditions)
        net.step()
        q = gas.forward_rates_of_progress
        t.append(net.time)
        temps.append(reactor.T)
        qb.append(q[branch].sum())
        qr.append(q[recomb].sum())
        after += reactor.T > T + 350
    t = np.array(t)
    k = int(np.argmax(np.gradient(np.array(temps), t)))
    ib = _trapezoid(np.array(qb[: k + 1]), t[: k + 1])
    ir = _trapezoid(np.array(qr[: k + 1]), t[: k + 1])
    return t[k], ib / (ib + ir), len(branch), len(recomb)


# -- H2O2Ignition --
def test_h2o2_definition():
    problem = H2O2Ignition(cache=False)
    assert isinstance(problem, Problem)
    assert problem.space.names == ["T", "P", "phi"]
    assert [(v.lower, v.upper, v.transform) for v in problem.space.variables] == [
        (900.0, 1500.0, "inverse"),
        (0.5, 20.0, "log"),
        (0.5, 2.0, "none"),
    ]
    assert [(t.name, t.transform, t.kind) for t in problem.tasks] == [
        ("tau_ign", "log10", "rate"),
        ("f_branch", "logit", "mechanism"),
    ]
    branching, terminating = h2o2_module.h_o2_channels(ct.Solution("h2o2.yaml"))
    # h2o2.yaml: one branching reaction, five H + O2 recombinations (M, O2, H2O, N2, AR).
    assert len(branching) == 1 and len(terminating) == 5


def test_h2o2_matches_direct_cantera_run():
    rows = [(1000.0, 1.0, 1.0), (1300.0, 10.0, 0.5), (950.0, 5.0, 2.0)]
    out = H2O2Ignition().evaluate(_frame(rows))
    for (T, P, phi), tau, f in zip(rows, out["tau_ign"], out["f_branch"], strict=True):
        tau_ref, f_ref, n_branch, n_recomb = _reference_ignition(T, P, phi)
        assert (n_branch, n_recomb) == (1, 5)
        # Both locate the peak on integrator steps (the reference by finite differences, the package
        # from the energy equation plus a parabolic refinement); they agree to ~0.05 % in practice,
        # 1 % leaves room for step placement while catching any definition error (a different
        # criterion such as T0 + 400 K or max dOH/dt moves tau by several %).
        assert tau == pytest.approx(tau_ref, rel=1e-2)
        # The flux integrals differ only by the last partial step: 0.005 absolute is ample.
        assert f == pytest.approx(f_ref, abs=5e-3)


def test_h2o2_physics_of_branching_fraction():
    problem = H2O2Ignition()
    temps = [900.0, 1050.0, 1200.0, 1350.0, 1500.0]
    grid = _frame([(T, P, 1.0) for P in (0.5, 20.0) for T in temps])
    out = problem.evaluate(grid)
    f = out["f_branch"].to_numpy().reshape(2, len(temps))
    assert np.all((f > 0) & (f < 1))
    # Branching (activated, Ea ~ 70 kJ/mol) wins over recombination (third-body, slightly negative
    # T dependence) as T rises, and loses as P rises: the explosion-limit switch.
    assert np.all(np.diff(f, axis=1) > 0)
    assert np.all(f[0] > f[1])
    # Ignition is faster when hotter.
    tau = out["tau_ign"].to_numpy().reshape(2, len(temps))
    assert np.all(np.diff(tau, axis=1) < 0)


def test_h2o2_evaluate_keeps_index_and_input(tmp_path):
    grid = _frame([(1100.0, 2.0, 1.0), (1400.0, 0.7, 0.6)]).set_index(pd.Index([10, 20]))
    grid["comment"] = ["a", "b"]
    before = grid.copy()
    out = H2O2Ignition().evaluate(grid, progress=False)
    pd.testing.assert_frame_equal(grid, before)
    assert list(out.index) == [10, 20]
    assert list(out.columns) == ["T", "P", "phi", "tau_ign", "f_branch"]


def test_h2o2_cache_returns_identical_values(tmp_path, monkeypatch):
    grid = _frame([(1000.0, 1.0, 1.0), (1200.0, 3.0, 0.8), (1000.0, 1.0, 1.0)])
    first = H2O2Ignition().evaluate(grid)
    assert (tmp_path / "cache" / "problems.sqlite").exists()
    assert first.iloc[0].equals(first.iloc[2])

    # A fresh instance must answer from the cache alone: simulating would raise.
    def no_simulation(*args, **kwargs):
        raise AssertionError("simulate_ignition called although the result is cached")

    monkeypatch.setattr(h2o2_module, "simulate_ignition", no_simulation)
    second = H2O2Ignition().evaluate(grid)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    # A 1000/(1000/T) round trip lands on the same key (12 significant digits).
    assert (
        H2O2Ignition().evaluate(_frame([(1000.0 / (1000.0 / 1200.0), 3.0, 0.8)]))["tau_ign"].iloc[0]
        == first["tau_ign"].iloc[1]
    )
    # Other settings must not hit these entries.
    with pytest.raises(AssertionError, match="simulate_ignition called"):
        H2O2Ignition(dilution=0.95).evaluate(grid)


def test_h2o2_cache_disabled_writes_nothing(tmp_path):
    H2O2Ignition(cache=False).evaluate(_frame([(1400.0, 1.0, 1.0)]))
    assert not (tmp_path / "cache").exists()


def test_h2o2_unwritable_cache_falls_back_with_one_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("x")
    # A path below a regular file cannot be created, even by root (chmod would not stop root).
    monkeypatch.setenv("MTGP_KINETICS_CACHE", str(blocker / "cache"))
    grid = _frame([(1400.0, 1.0, 1.0)])
    problem = H2O2Ignition()
    with pytest.warns(CacheWarning, match="cannot be used") as record:
        out = problem.evaluate(grid)
        problem.evaluate(grid)
        H2O2Ignition().evaluate(grid)
    assert len(record) == 1
    assert 0 < out["f_branch"].iloc[0] < 1


def test_h2o2_no_ignition_raises():
    problem = H2O2Ignition(max_time=1e-5, cache=False)
    with pytest.raises(NumericsError, match=r"no ignition within max_time=1e-05 s at T=900.0 K"):
        problem.evaluate(_frame([(900.0, 20.0, 0.5)]))


def test_h2o2_rejects_bad_conditions_and_settings():
    problem = H2O2Ignition(cache=False)
    with pytest.raises(InputDataError, match=r"column 'T': row 1: 2000 outside"):
        problem.evaluate(_frame([(1000.0, 1.0, 1.0), (2000.0, 1.0, 1.0)]))
    with pytest.raises(InputDataError, match="missing condition column"):
        problem.evaluate(_frame([(1000.0, 1.0)], columns=("T", "P")))
    with pytest.raises(InputDataError, match="dilution"):
        H2O2Ignition(dilution=1.2)
    with pytest.raises(InputDataError, match="tau_noise"):
        H2O2Ignition(tau_noise=-0.1)


def test_h2o2_sample_heterotopic_and_seeded():
    problem = H2O2Ignition()
    a = problem.sample(12, seed=3, observed_fraction={"f_branch": 0.25})
    b = problem.sample(12, seed=3, observed_fraction={"f_branch": 0.25})
    pd.testing.assert_frame_equal(a, b)
    assert a["f_branch"].notna().sum() == 3
    assert a["tau_ign"].notna().all()
    clean = problem.sample(12, seed=3, noise=False)
    # Noise is 10 % lognormal on tau: log ratios are small but not all zero.
    log_ratio = np.log(a["tau_ign"] / clean["tau_ign"])
    assert np.all(np.abs(log_ratio) < 0.6) and np.any(log_ratio != 0)
    pd.testing.assert_frame_equal(clean[["T", "P", "phi"]], a[["T", "P", "phi"]])


# -- AnalyticKinetics --
@pytest.mark.parametrize("n_tasks", [2, 3])
def test_analytic_true_correlation(n_tasks):
    problem = AnalyticKinetics(n_tasks=n_tasks)
    R = problem.true_task_correlation
    names = ["log_k", "f_a", "k_b"][:n_tasks]
    assert list(R.index) == names and list(R.columns) == names
    np.testing.assert_allclose(R.to_numpy(), R.to_numpy().T, atol=1e-12)
    np.testing.assert_allclose(np.diag(R), 1.0, atol=1e-12)
    assert R.loc["log_k", "f_a"] == pytest.approx(0.8)
    assert np.all(np.linalg.eigvalsh(R.to_numpy()) > 0)
    # Empirical correlation of the latent values over a Sobol design of the space (another seed
    # than the reference design used for whitening): within 0.1 as required (seen: ~0.001).
    z = problem.latent(problem.space.sample(2000, seed=7))
    np.testing.assert_allclose(np.corrcoef(z, rowvar=False), R.to_numpy(), atol=0.1)


def test_analytic_deterministic_and_in_domain():
    X = AnalyticKinetics().space.sample(64, seed=1)
    a = AnalyticKinetics(n_tasks=3, seed=5).evaluate(X)
    b = AnalyticKinetics(n_tasks=3, seed=5).evaluate(X)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    c = AnalyticKinetics(n_tasks=3, seed=6).evaluate(X)
    assert not np.allclose(a["log_k"], c["log_k"])
    problem = AnalyticKinetics(n_tasks=3)
    for task in problem.tasks:
        assert task.output_transform.is_valid(a[task.name].to_numpy()).all()
    # The latent values are the modelled outputs: mean 12 for log_k, no trend added.
    z = problem.latent(problem.space.sample(1024, seed=2))
    assert z[:, 0].mean() == pytest.approx(12.0, abs=0.1)
    assert z[:, 0].std() == pytest.approx(1.0, abs=0.1)


def test_analytic_sample_noise_and_observation_mask():
    problem = AnalyticKinetics(n_tasks=3, noise=0.05)
    noisy = problem.sample(2000, seed=0)
    clean = problem.sample(2000, seed=0, noise=False)
    for task in problem.tasks:
        tf = task.output_transform
        resid = tf.forward(noisy[task.name].to_numpy()) - tf.forward(clean[task.name].to_numpy())
        # std of a 2000-sample std estimate is 0.05 / sqrt(4000) ~ 0.0008; 0.005 is > 5 sigma.
        assert resid.std() == pytest.approx(0.05, abs=5e-3)
    frac = {"log_k": 0.5, "f_a": 0.4, "k_b": 0.3}
    masked = problem.sample(200, seed=1, observed_fraction=frac)
    observed = masked[problem.task_names].notna()
    assert observed.any(axis=1).all()  # never a row with no task
    assert list(observed.sum()) == [100, 80, 60]  # exact counts, as the fractions sum to > 1
    # Fractions summing to < 1 cannot cover every row: rows still keep one task each.
    sparse = problem.sample(50, seed=2, observed_fraction={"log_k": 0.2, "f_a": 0.2, "k_b": 0.2})
    counts = sparse[problem.task_names].notna().sum(axis=1)
    assert (counts >= 1).all() and counts.sum() == 50


def test_analytic_and_sample_validation():
    with pytest.raises(InputDataError, match="n_tasks must be 2 or 3"):
        AnalyticKinetics(n_tasks=4)
    with pytest.raises(InputDataError, match="lengthscales must hold 2"):
        AnalyticKinetics(lengthscales=(0.3,))
    problem = AnalyticKinetics()
    with pytest.raises(InputDataError, match=r"unknown task\(s\) \['nope'\]"):
        problem.sample(5, seed=0, observed_fraction={"nope": 0.5})
    with pytest.raises(InputDataError, match=r"observed_fraction\['f_a'\] must be in \(0, 1\]"):
        problem.sample(5, seed=0, observed_fraction={"f_a": 0.0})
    with pytest.raises(InputDataError, match="n must be a positive integer"):
        problem.sample(0, seed=0)


# -- registry and cache unit --
def test_get_problem():
    assert isinstance(get_problem("analytic", n_tasks=3), AnalyticKinetics)
    assert isinstance(get_problem("H2O2", cache=False), H2O2Ignition)
    assert isinstance(get_problem("ch3_oh"), MethylHydroxylChannels)
    with pytest.raises(
        InputDataError, match=r"unknown problem 'gri'; choose one of \['analytic', 'ch3_oh', 'h2o2'\]"
    ):
        get_problem("gri")


def test_result_cache_two_connections(tmp_path):
    # Two cache objects on one file stand for two processes: WAL mode, shared entries.
    one, two = ResultCache(tmp_path), ResultCache(tmp_path)
    key = condition_key("digest", [1000.0, 1.0])
    one.put_many({key: {"tau_ign": 1.5e-4}})
    assert two.get_many([key, "absent"]) == {key: {"tau_ign": 1.5e-4}}
    assert condition_key("digest", [1000.0 + 1e-10, 1.0]) == key
    assert condition_key("digest", [1000.0 + 1e-6, 1.0]) != key
    con = sqlite3.connect(one.path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


# -- MethylHydroxylChannels --
_R = 8314.462618  # J / (kmol K)
_N_A = 6.02214076e26  # 1 / kmol


def _arrhenius(rate, T):
    """k = A T^b exp(-Ea / RT) from a Cantera ArrheniusRate's parameters (SI: kmol, m, J/kmol)."""
    return (
        rate.pre_exponential_factor
        * T**rate.temperature_exponent
        * np.exp(-rate.activation_energy / (_R * T))
    )


def _reference_methyl_hydroxyl(T, P_bar):
    """Total CH3 + OH rate constant and methanol share from the mechanism's parameters, by hand.

    The Troe falloff formula (Gilbert, Luther & Troe 1983, as in the GRI-Mech 3.0 documentation)
    written out here, in N2 (collision efficiency 1): not Cantera's rate evaluation.
    """
    gas = ct.Solution("gri30.yaml")
    falloff = gas.reaction(gas.reaction_equations().index("CH3 + OH (+M) <=> CH3OH (+M)"))
    others = [
        _arrhenius(gas.reaction(gas.reaction_equations().index(eq)).rate, T)
        for eq in ("CH3 + OH <=> CH2 + H2O", "CH3 + OH <=> CH2(S) + H2O", "CH3 + OH => CH2O + H2")
    ]
    concentration = P_bar * 1e5 / (_R * T)  # kmol / m^3
    k0, kinf = _arrhenius(falloff.rate.low_rate, T), _arrhenius(falloff.rate.high_rate, T)
    reduced = k0 * concentration / kinf
    a, T3, T1, T2 = falloff.rate.falloff_coeffs
    f_cent = (1 - a) * np.exp(-T / T3) + a * np.exp(-T / T1) + np.exp(-T2 / T)
    c = -0.4 - 0.67 * np.log10(f_cent)
    n = 0.75 - 1.27 * np.log10(f_cent)
    x = (np.log10(reduced) + c) / (n - 0.14 * (np.log10(reduced) + c))
    k_falloff = kinf * reduced / (1 + reduced) * 10 ** (np.log10(f_cent) / (1 + x**2))
    total = (k_falloff + sum(others)) * 1e6 / _N_A  # cm^3 / (molecule s)
    return total, k_falloff * 1e6 / _N_A / total


def test_methyl_hydroxyl_matches_troe_formula_by_hand():
    rows = [(400.0, 0.01), (700.0, 1.0), (1000.0, 30.0), (1600.0, 100.0)]
    out = MethylHydroxylChannels().evaluate(_frame(rows, ("T", "P")))
    for (T, P), k, f in zip(rows, out["k_total"], out["f_CH3OH"], strict=True):
        k_ref, f_ref = _reference_methyl_hydroxyl(T, P)
        # The same formula in double precision: agreement to rounding, 1e-9 leaves room for the
        # order of operations only (a unit or efficiency error is a factor, not a rounding).
        assert k == pytest.approx(k_ref, rel=1e-9)
        assert f == pytest.approx(f_ref, rel=1e-9)


def test_methyl_hydroxyl_physics_and_task_correlation():
    problem = MethylHydroxylChannels()
    temps, pressures = [400.0, 800.0, 1200.0, 1600.0], [0.01, 1.0, 100.0]
    out = problem.evaluate(_frame([(T, P) for P in pressures for T in temps], ("T", "P")))
    f = out["f_CH3OH"].to_numpy().reshape(len(pressures), len(temps))
    k = out["k_total"].to_numpy().reshape(len(pressures), len(temps))
    # Collisional stabilization wins with pressure and loses with temperature (falloff).
    assert np.all(np.diff(f, axis=0) > 0) and np.all(np.diff(f, axis=1) < 0)
    assert np.all(np.diff(k, axis=0) > 0)
    assert 1e-11 < k.min() and k.max() < 1e-9 and 0 < f.min() and f.max() < 1
    # Both outputs follow the falloff term: strongly, but not perfectly, correlated over the space.
    truth = problem.evaluate(problem.space.sample(500, seed=1))
    z_k = np.log10(truth["k_total"])
    z_f = np.log(truth["f_CH3OH"] / (1 - truth["f_CH3OH"]))
    assert 0.7 < np.corrcoef(z_k, z_f)[0, 1] < 0.97


def test_methyl_hydroxyl_sample_and_validation():
    problem = get_problem("ch3_oh", k_noise=0.0, f_noise=0.0)
    data = problem.sample(12, seed=3, observed_fraction={"f_CH3OH": 0.25})
    assert data["f_CH3OH"].notna().sum() == 3 and data["k_total"].notna().all()
    exact = problem.evaluate(data[["T", "P"]])
    np.testing.assert_allclose(data["k_total"], exact["k_total"])
    with pytest.raises(InputDataError, match="bath gas 'XE'"):
        MethylHydroxylChannels(bath_gas="XE")
    with pytest.raises(InputDataError, match="f_noise must be a finite number >= 0"):
        MethylHydroxylChannels(f_noise=-0.1)
    with pytest.raises(InputDataError, match="found 0 CH3 \\+ OH reaction"):
        MethylHydroxylChannels(mechanism="h2o2.yaml", bath_gas="AR")
    with pytest.raises(InputDataError, match="column 'P'"):
        problem.evaluate(_frame([(500.0, 1000.0)], ("T", "P")))
