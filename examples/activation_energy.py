"""Global activation energy of H2/O2 ignition, its pressure exponent and the mechanism switch, with intervals.

Usage: python examples/activation_energy.py [--out outputs/examples] [--fast]

Fits the default multi-task model to simulated shock-tube data (Cantera H2/O2: ignition delay at every
experiment, the H + O2 branching fraction at 40 % of them), then reports what a kineticist publishes,
each with a 95 % credible interval from the GP's derivative posterior:

* the global activation energy ``Ea = R d ln tau / d(1/T)`` [kJ/mol] against temperature;
* the pressure exponent ``d ln tau / d ln P``;
* the temperature where the branching fraction crosses 0.5 at each pressure (the mechanism switch) and
  the probability that branching dominates.

Writes ``activation_energy_arrhenius_tau_ign.png`` (Arrhenius plot with its band) and
``activation_energy_tau_ign.png`` (Ea against T with its band) to ``--out``.
"""

import argparse
from pathlib import Path

import pandas as pd

import mtgp_kinetics as mk
from mtgp_kinetics.plotting import activation_energy_plot, arrhenius_plot
from mtgp_kinetics.problems import H2O2Ignition


def main() -> None:
    parser = argparse.ArgumentParser(description="Activation energy and mechanism switch of H2/O2 ignition.")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="fewer experiments and one optimizer start (CI)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. The experiments (replace with mk.Dataset.from_csv("your.csv", space, tasks)).
    problem = H2O2Ignition()
    frame = problem.sample(30 if args.fast else 60, seed=0, observed_fraction={"f_branch": 0.4})
    data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
    model = mk.fit(data, restarts=1 if args.fast else 4)

    # 2. Global activation energy of the delay at 2 atm, phi = 1 (a delay: Ea = +R d ln tau / d(1/T)).
    fixed = {"P": 2.0, "phi": 1.0}
    conditions = pd.DataFrame({"T": [950.0, 1050.0, 1200.0, 1400.0], **fixed})
    ea = mk.activation_energy(model, conditions, "tau_ign")
    print("global activation energy of tau_ign [kJ/mol], 95 % credible interval:")
    print(ea[["T", "P", "mean", "lower", "upper"]].to_string(index=False, float_format=lambda v: f"{v:.1f}"))

    # 3. Pressure exponent n in tau ~ P^n.
    order = mk.exponent(model, conditions, "tau_ign", "P")
    print("\npressure exponent d ln tau / d ln P:")
    print(
        order[["T", "P", "mean", "lower", "upper"]].to_string(index=False, float_format=lambda v: f"{v:.2f}")
    )

    # 4. The mechanism switch: where H + O2 -> O + OH stops winning over H + O2 + M -> HO2 + M.
    at = pd.DataFrame({"P": [1.0, 3.0, 10.0], "phi": 1.0})
    switch = mk.level_crossing(model, "f_branch", 0.5, along="T", at=at, n_samples=200 if args.fast else 1000)
    print("\ntemperature [K] where f_branch = 0.5 (branching wins above it):")
    print(switch.to_string(index=False, float_format=lambda v: f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"))
    dominates = mk.probability_above(model, conditions, "f_branch", 0.5)
    print("\nprobability that chain branching dominates (f_branch > 0.5):")
    print(dominates[["T", "P", "probability"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    # 5. Plots.
    arrhenius = args.out / "activation_energy_arrhenius_tau_ign.png"
    arrhenius_plot(model, "tau_ign", fixed=fixed).savefig(arrhenius, dpi=150)
    energy = args.out / "activation_energy_tau_ign.png"
    activation_energy_plot(model, "tau_ign", fixed=fixed, n_points=40 if args.fast else 80).savefig(
        energy, dpi=150
    )
    print(f"\nwrote {arrhenius} and {energy}")


if __name__ == "__main__":
    main()
