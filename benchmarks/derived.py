"""Derived activation energies and pressure exponents against the truth (docs/derived.md).

Usage: python benchmarks/derived.py [--n-train 40] [--n-test 40] [--seeds 3] [--restarts 4] [--quick]

Two checks, each over several seeds:

* **analytic Arrhenius** -- ``k = A exp(-Ea / R T) P^n`` with ``Ea = 150 kJ/mol``, ``n = 0.7`` and 5 %
  lognormal noise (``T`` 700-1400 K as 1000/T, ``P`` 0.1-10 bar as ln P, ``log10 k`` modelled): how often
  the 95 % interval of the derived ``Ea`` and ``n`` contains the truth at Sobol test conditions;
* **H2/O2 ignition** -- the built-in Cantera problem (``tau_ign`` with 10 % lognormal noise, ``f_branch``
  at 30 % of the rows): the global activation energy ``R d ln tau / d(1/T)`` and the pressure exponent
  ``d ln tau / d ln P`` of the default model against central differences of the noise-free Cantera
  oracle (half-step 0.004 in 1000/T and 0.01 in ln P: small enough for the curvature, large enough that
  the integrator's rounding does not show).

For each: coverage of the 95 % intervals, mean interval width, and the RMSE of the posterior mean.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import mtgp_kinetics as mk
from mtgp_kinetics.problems import H2O2Ignition

R = 8.314462618e-3  # kJ/(mol K)
EA_TRUE, N_TRUE, LN_A = 150.0, 0.7, float(np.log(1e13))
ARRHENIUS_SPACE = mk.Space(
    [
        mk.Continuous("T", 700.0, 1400.0, unit="K", transform="inverse"),
        mk.Continuous("P", 0.1, 10.0, unit="bar", transform="log"),
    ]
)
ARRHENIUS_TASK = mk.Task("k", unit="1/s", transform="log10", kind="rate")


def arrhenius_frame(n: int, seed: int, noise: float = 0.05) -> pd.DataFrame:
    """``n`` Sobol conditions with noisy ``k = A exp(-Ea/RT) P^n`` (lognormal noise of std ``noise``)."""
    frame = ARRHENIUS_SPACE.sample(n, seed=seed)
    ln_k = LN_A - EA_TRUE / (R * frame["T"]) + N_TRUE * np.log(frame["P"])
    frame["k"] = np.exp(ln_k + noise * np.random.default_rng(seed).standard_normal(n))
    return frame


def score(estimate: pd.DataFrame, truth: np.ndarray) -> dict[str, float]:
    """Coverage, mean width and RMSE of the mean of derived-quantity rows against the truth."""
    inside = (estimate["lower"] <= truth) & (truth <= estimate["upper"])
    return {
        "coverage": float(inside.mean()),
        "width": float((estimate["upper"] - estimate["lower"]).mean()),
        "rmse": float(np.sqrt(np.mean((estimate["mean"] - truth) ** 2))),
    }


def h2o2_truth(problem: H2O2Ignition, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Global Ea [kJ/mol] and pressure exponent of the noise-free oracle by central differences."""
    d_inv, d_lnp = 0.004, 0.01  # half-steps in 1000/T [1000/K] and ln P
    inv = 1000.0 / test["T"].to_numpy()
    frames = []
    for shift_inv, shift_lnp in ((d_inv, 0.0), (-d_inv, 0.0), (0.0, d_lnp), (0.0, -d_lnp)):
        shifted = test.copy()
        shifted["T"] = 1000.0 / (inv + shift_inv)
        shifted["P"] = test["P"] * np.exp(shift_lnp)
        frames.append(shifted)
    ln_tau = [np.log(problem.evaluate(f, progress=False)["tau_ign"].to_numpy()) for f in frames]
    ea = R * 1000.0 * (ln_tau[0] - ln_tau[1]) / (2 * d_inv)  # R d ln tau / d(1000/T) * 1000
    n = (ln_tau[2] - ln_tau[3]) / (2 * d_lnp)
    return ea, n


def h2o2_test_conditions(problem: H2O2Ignition, n: int, seed: int) -> pd.DataFrame:
    """Test conditions kept inside the bounds by the difference steps of :func:`h2o2_truth`."""
    space = problem.space
    inner = mk.Space(
        [
            mk.Continuous(
                "T", 1000.0 / (1000.0 / 900.0 - 0.005), 1000.0 / (1000.0 / 1500.0 + 0.005), "K", "inverse"
            ),
            mk.Continuous("P", 0.5 * np.exp(0.011), 20.0 * np.exp(-0.011), "atm", "log"),
            space["phi"],
        ]
    )
    return inner.sample(n, seed=seed)


def run(n_train: int, n_test: int, seeds: int, restarts: int) -> pd.DataFrame:
    """Every check for every seed; one row per (problem, quantity, seed)."""
    rows = []
    for seed in range(seeds):
        data = mk.Dataset.from_frame(arrhenius_frame(n_train, seed), ARRHENIUS_SPACE, [ARRHENIUS_TASK])
        test = ARRHENIUS_SPACE.sample(n_test, seed=1000 + seed)
        for mean in ("constant", "linear"):
            start = time.perf_counter()
            model = mk.fit(data, mean=mean, restarts=restarts, seed=seed)
            ea = mk.activation_energy(model, test, "k")
            order = mk.exponent(model, test, "k", "P")
            elapsed = time.perf_counter() - start
            for name, est, truth in (("Ea", ea, EA_TRUE), ("n_P", order, N_TRUE)):
                rows.append(
                    {"problem": f"arrhenius ({mean} mean)", "quantity": name, "seed": seed}
                    | score(est, np.full(len(est), truth))
                    | {"seconds": elapsed}
                )
    problem = H2O2Ignition()
    for seed in range(seeds):
        frame = problem.sample(n_train, seed=seed, observed_fraction={"f_branch": 0.3})
        data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
        test = h2o2_test_conditions(problem, n_test, 1000 + seed)
        true_ea, true_n = h2o2_truth(problem, test)
        start = time.perf_counter()
        model = mk.fit(data, restarts=restarts, seed=seed)
        ea = mk.activation_energy(model, test, "tau_ign")
        order = mk.exponent(model, test, "tau_ign", "P")
        elapsed = time.perf_counter() - start
        for name, est, truth in (("Ea", ea, true_ea), ("n_P", order, true_n)):
            rows.append(
                {"problem": "h2o2 (default model)", "quantity": name, "seed": seed}
                | score(est, truth)
                | {"seconds": elapsed}
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=40)
    parser.add_argument("--n-test", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="1 seed, 1 restart, 20 test conditions")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.restarts, args.n_test = 1, 1, 20
    table = run(args.n_train, args.n_test, args.seeds, args.restarts)
    pd.set_option("display.width", 160)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print()
    summary = table.groupby(["problem", "quantity"], sort=False)[["coverage", "width", "rmse", "seconds"]]
    print(summary.mean().to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
