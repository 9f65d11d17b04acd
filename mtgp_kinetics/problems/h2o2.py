"""H2/O2 shock-tube ignition computed with Cantera: a real kinetics oracle with two tasks.

Each condition is a constant-volume, adiabatic 0-D reactor (``IdealGasReactor`` in a ``ReactorNet``,
the usual idealization of the reflected-shock region of a shock tube) filled with H2/O2 diluted in
argon and integrated with Cantera until it has ignited. Two outputs are read from one run:

``tau_ign``
    the ignition delay [s], defined as the time of maximum dT/dt;
``f_branch``
    the share of the H + O2 flux that goes through the chain-branching channel H + O2 -> O + OH
    rather than the chain-terminating recombination H + O2 (+M) -> HO2 (+M), each forward rate of
    progress integrated from 0 to the ignition time. It is the mechanism switch behind the
    explosion limits: near 1 at high T / low P (branching wins), small at low T / high P.

With the default dilution (93 % Ar), bounds and ``max_time`` every condition of the documented
space ignites (checked on a 7 x 25 x 3 grid in 1000/T, ln P and phi): tau_ign spans about 4e-6 s
(1500 K, 20 atm) to 0.6 s (900 K, 2-3 atm, where the HO2 route slows ignition most; a real shock
tube would not hold such a mixture that long, the 0-D oracle does), f_branch about 0.12
(900 K, 20 atm, phi 2) to 0.985 (1500 K, 0.5 atm). One run takes 10-25 ms.
"""

from __future__ import annotations

import json
import math
from functools import cached_property
from typing import Any

import cantera as ct
import numpy as np
import pandas as pd
from tqdm import tqdm

from mtgp_kinetics.errors import InputDataError, NumericsError
from mtgp_kinetics.problems.base import Problem, is_finite_number
from mtgp_kinetics.problems.cache import ResultCache, condition_key, settings_digest
from mtgp_kinetics.space import Continuous, Space
from mtgp_kinetics.tasks import Task

#: Outputs stored per condition (the task values plus diagnostics).
OUTPUT_NAMES = ("tau_ign", "f_branch", "max_dTdt", "T_final", "n_steps")

# Above this many uncached conditions, ``progress=None`` shows a progress bar.
_PROGRESS_THRESHOLD = 20

# Cantera 3.2 warns unless ``clone`` is given; older versions do not know the argument (and share
# the phase by default, which is what we want).
_CT_VERSION = tuple(int(p) for p in ct.__version__.split(".")[:2] if p.isdigit())
_REACTOR_KWARGS: dict[str, Any] = {"clone": False} if _CT_VERSION >= (3, 2) else {}


def _net_change(reaction: ct.Reaction) -> tuple[dict[str, float], dict[str, float]]:
    """Net reactants and products of a reaction, explicit colliders cancelled.

    ``H + O2 + O2 <=> HO2 + O2`` and ``H + O2 (+M) <=> HO2 (+M)`` both give ``{H: 1, O2: 1}`` ->
    ``{HO2: 1}``, whatever way a Cantera version stores the collider.
    """
    species = set(reaction.reactants) | set(reaction.products)
    delta = {s: reaction.products.get(s, 0.0) - reaction.reactants.get(s, 0.0) for s in species}
    consumed = {s: -d for s, d in delta.items() if d < 0}
    produced = {s: d for s, d in delta.items() if d > 0}
    return consumed, produced


def h_o2_channels(gas: ct.Solution) -> tuple[list[int], list[int]]:
    """Find the H + O2 reactions of a mechanism by their stoichiometry.

    Parameters
    ----------
    gas : cantera.Solution
        The mechanism.

    Returns
    -------
    branching : list of int
        Reactions whose net change is H + O2 -> O + OH.
    terminating : list of int
        Reactions whose net change is H + O2 -> HO2: the three-body and falloff recombinations,
        one per explicit collider (M, O2, H2O, N2, AR in ``h2o2.yaml``).

    Raises
    ------
    InputDataError
        If the mechanism lacks either channel.
    """
    branching: list[int] = []
    terminating: list[int] = []
    for i, reaction in enumerate(gas.reactions()):
        consumed, produced = _net_change(reaction)
        if consumed != {"H": 1.0, "O2": 1.0}:
            continue
        if produced == {"O": 1.0, "OH": 1.0}:
            branching.append(i)
        elif produced == {"HO2": 1.0}:
            terminating.append(i)
    if not branching or not terminating:
        raise InputDataError(
            f"mechanism: needs the reactions H + O2 <=> O + OH and H + O2 (+M) <=> HO2 (+M); found "
            f"{len(branching)} branching and {len(terminating)} recombination reaction(s)"
        )
    return branching, terminating


def _initial_mole_fractions(phi: float, dilution: float) -> dict[str, float]:
    # H2 : O2 = 2 phi : 1 (phi = 1 is stoichiometric 2 H2 + O2), the rest argon.
    fuel_and_oxidizer = 1.0 - dilution
    return {
        "H2": fuel_and_oxidizer * 2.0 * phi / (2.0 * phi + 1.0),
        "O2": fuel_and_oxidizer / (2.0 * phi + 1.0),
        "AR": dilution,
    }


def _integral_to(t: np.ndarray, y: np.ndarray, t_end: float) -> float:
    """Trapezoid integral of ``y(t)`` from ``t[0]`` to ``t_end``, ``y`` linear between steps."""
    keep = t < t_end
    tt = np.append(t[keep], t_end)
    yy = np.append(y[keep], np.interp(t_end, t, y))
    return float(np.sum(0.5 * (yy[1:] + yy[:-1]) * np.diff(tt)))


def simulate_ignition(
    T: float,
    P_atm: float,
    phi: float,
    dilution: float = 0.93,
    *,
    mechanism: str = "h2o2.yaml",
    max_time: float = 10.0,
    rtol: float = 1e-9,
    atol: float = 1e-15,
    gas: ct.Solution | None = None,
) -> dict[str, float]:
    """One constant-volume ignition run with Cantera.

    Parameters
    ----------
    T : float
        Initial temperature [K].
    P_atm : float
        Initial pressure [atm].
    phi : float
        Equivalence ratio [-]; the mixture is H2 : O2 = 2 phi : 1.
    dilution : float
        Argon mole fraction [-], in (0, 1).
    mechanism : str
        Cantera mechanism file (ignored when ``gas`` is given).
    max_time : float
        Longest simulated time [s]. A mixture that has not ignited by then raises.
    rtol, atol : float
        Integrator tolerances (tight by default: the delay is read from the integrator's steps).
    gas : cantera.Solution, optional
        A phase to reuse (its state is overwritten); saves reloading the mechanism.

    Returns
    -------
    dict
        ``tau_ign`` [s]: time of maximum dT/dt; ``f_branch`` [-]: integrated branching fraction
        (see the module docstring); ``max_dTdt`` [K/s]; ``T_final`` [K]: temperature at the end of
        the run (shortly after ignition, not equilibrium); ``n_steps``: integrator steps taken.

    Raises
    ------
    NumericsError
        If the mixture does not ignite within ``max_time`` (the message says how far it got), or
        the branching fraction is not strictly inside (0, 1).

    Notes
    -----
    dT/dt is evaluated at every integrator step from the energy equation of the adiabatic
    constant-volume reactor, ``rho c_v dT/dt = -sum_k u_k wdot_k`` (``u_k`` molar internal energies,
    ``wdot_k`` molar production rates), so it is exact at each step rather than a finite
    difference of temperatures. The peak is then located between steps by the vertex of the
    parabola through the largest value and its two neighbours. The run stops once the temperature
    is past half-way to the constant-(U, V) equilibrium temperature and dT/dt has fallen below 1 %
    of its peak: the peak is then behind (H2/O2 ignition is single-stage).
    """
    if gas is None:
        gas = ct.Solution(mechanism)
    branching, terminating = h_o2_channels(gas)
    gas.TPX = T, P_atm * ct.one_atm, _initial_mole_fractions(phi, dilution)
    state0 = gas.state
    gas.equilibrate("UV")
    T_half = T + 0.5 * (gas.T - T)
    gas.state = state0

    reactor = ct.IdealGasReactor(gas, **_REACTOR_KWARGS)
    net = ct.ReactorNet([reactor])
    net.rtol, net.atol = rtol, atol

    def dTdt() -> float:
        # Energy equation of the adiabatic constant-volume reactor (no walls, no heat loss).
        heat = float(np.dot(gas.partial_molar_int_energies, gas.net_production_rates))
        return -heat / (gas.density * gas.cv_mass)

    def rates() -> tuple[float, float]:
        q = gas.forward_rates_of_progress
        return float(q[branching].sum()), float(q[terminating].sum())

    b, m = rates()
    times, slopes, q_branch, q_term = [0.0], [dTdt()], [b], [m]
    peak = slopes[0]
    ignited = False
    while True:
        if net.time >= max_time:
            raise NumericsError(
                f"no ignition within max_time={max_time} s at T={T} K, P={P_atm} atm, phi={phi}, "
                f"dilution={dilution}: the temperature reached {reactor.T:.1f} K of the "
                f"{T_half:.1f} K that marks ignition. Increase max_time or choose conditions "
                "inside the documented space."
            )
        net.step()
        times.append(net.time)
        slopes.append(dTdt())
        b, m = rates()
        q_branch.append(b)
        q_term.append(m)
        peak = max(peak, slopes[-1])
        ignited = ignited or reactor.T > T_half
        if ignited and slopes[-1] < 0.01 * peak:
            break

    t = np.asarray(times)
    s = np.asarray(slopes)
    k = int(np.argmax(s))
    tau = float(t[k])
    if 0 < k < len(t) - 1:
        tau = _parabola_vertex(t[k - 1 : k + 2], s[k - 1 : k + 2], default=tau)
    branch = _integral_to(t, np.asarray(q_branch), tau)
    term = _integral_to(t, np.asarray(q_term), tau)
    f_branch = branch / (branch + term) if branch + term > 0 else math.nan
    if not 0.0 < f_branch < 1.0:
        raise NumericsError(
            f"f_branch={f_branch} is not inside (0, 1) at T={T} K, P={P_atm} atm, phi={phi}: "
            f"integrated branching {branch:.3e}, recombination {term:.3e} kmol/m3"
        )
    return {
        "tau_ign": tau,
        "f_branch": float(f_branch),
        "max_dTdt": float(s[k]),
        "T_final": float(reactor.T),
        "n_steps": float(len(t) - 1),
    }


def _parabola_vertex(t: np.ndarray, y: np.ndarray, default: float) -> float:
    """Abscissa of the vertex of the parabola through 3 points, clipped to their range."""
    # Scaled so the 3x3 solve is well conditioned whatever the time scale (us to s).
    t0, dt = t[1], t[2] - t[0]
    x = (t - t0) / dt
    a, b, _ = np.linalg.solve(np.vander(x, 3), y)
    if not a < 0:
        return default
    return float(t0 + dt * np.clip(-b / (2 * a), x[0], x[2]))


class H2O2Ignition(Problem):
    """H2/O2/Ar shock-tube ignition (Cantera ``h2o2.yaml``): ignition delay and branching fraction.

    Space: ``T`` 900-1500 K (modelled as 1000/T), ``P`` 0.5-20 atm (modelled as ln P),
    ``phi`` 0.5-2 (H2 : O2 = 2 phi : 1). Tasks: ``tau_ign`` [s] (log10, rate) and ``f_branch``
    (logit, mechanism); see :mod:`mtgp_kinetics.problems.h2o2` for their definitions.

    Parameters
    ----------
    dilution : float
        Argon mole fraction, in (0, 1). 0.93 keeps the temperature rise moderate (about 500-600 K),
        as in dilute shock-tube mixtures, and keeps every delay of the space below 1 s.
    max_time : float
        Longest simulated time [s]; 10 s is about 16 times the slowest delay of the default space.
        A condition that does not ignite in it raises :class:`~mtgp_kinetics.errors.NumericsError`
        rather than returning a made-up delay (results computed before it are cached).
    tau_noise : float
        Measurement noise of ``tau_ign`` for :meth:`sample`: std of ln(tau), i.e. about 10 %
        multiplicative (lognormal) scatter by default.
    f_branch_noise : float
        Measurement noise of ``f_branch`` for :meth:`sample`: std in logit space.
    mechanism : str
        Cantera mechanism file; must contain H2, O2, AR and both H + O2 channels.
    cache : bool
        Store results in the on-disk cache (see :mod:`mtgp_kinetics.problems.cache`).
    rtol, atol : float
        Integrator tolerances.
    """

    name = "h2o2"

    def __init__(
        self,
        dilution: float = 0.93,
        max_time: float = 10.0,
        *,
        tau_noise: float = 0.10,
        f_branch_noise: float = 0.10,
        mechanism: str = "h2o2.yaml",
        cache: bool = True,
        rtol: float = 1e-9,
        atol: float = 1e-15,
    ) -> None:
        for label, value, low, high in (
            ("dilution", dilution, 0.0, 1.0),
            ("max_time", max_time, 0.0, math.inf),
            ("rtol", rtol, 0.0, 1.0),
            ("atol", atol, 0.0, 1.0),
        ):
            if not is_finite_number(value) or not low < value < high:
                raise InputDataError(f"H2O2Ignition: {label} must be in ({low}, {high}), got {value!r}")
        for label, value in (("tau_noise", tau_noise), ("f_branch_noise", f_branch_noise)):
            if not is_finite_number(value) or not 0.0 <= value < math.inf:
                raise InputDataError(f"H2O2Ignition: {label} must be a finite number >= 0, got {value!r}")
        self.dilution = float(dilution)
        self.max_time = float(max_time)
        self.tau_noise = float(tau_noise)
        self.f_branch_noise = float(f_branch_noise)
        self.mechanism = str(mechanism)
        self.rtol = float(rtol)
        self.atol = float(atol)
        self.space = Space(
            [
                Continuous("T", 900.0, 1500.0, unit="K", transform="inverse"),
                Continuous("P", 0.5, 20.0, unit="atm", transform="log"),
                Continuous("phi", 0.5, 2.0, unit="", transform=None),
            ]
        )
        self.tasks = [
            Task("tau_ign", unit="s", transform="log10", kind="rate"),
            Task("f_branch", unit="", transform="logit", kind="mechanism"),
        ]
        gas = self._gas  # loads the mechanism now, so a bad file fails in the constructor
        missing = sorted({"H2", "O2", "AR"} - set(gas.species_names))
        if missing:
            raise InputDataError(f"H2O2Ignition: mechanism {mechanism!r} lacks species {missing}")
        h_o2_channels(gas)
        self._cache = ResultCache() if cache else None

    @cached_property
    def _gas(self) -> ct.Solution:
        try:
            return ct.Solution(self.mechanism)
        except ct.CanteraError as error:
            raise InputDataError(f"H2O2Ignition: cannot load mechanism {self.mechanism!r}: {error}") from None

    @property
    def noise_std(self) -> dict[str, float]:
        """Noise std in modelled units: ``tau_noise / ln 10`` (log10), ``f_branch_noise``."""
        return {"tau_ign": self.tau_noise / math.log(10.0), "f_branch": self.f_branch_noise}

    @cached_property
    def settings_digest(self) -> str:
        """Hash of everything that changes a result; part of every cache key."""
        gas = self._gas
        # The mechanism is fingerprinted by content, not file name: an edited copy gets new keys.
        content = json.dumps(
            [
                gas.input_data,
                [s.input_data for s in gas.species()],
                [r.input_data for r in gas.reactions()],
            ],
            sort_keys=True,
            default=str,
        )
        return settings_digest(
            {
                "problem": "H2O2Ignition",
                "mechanism": settings_digest({"content": content}),
                "dilution": self.dilution,
                "max_time": self.max_time,
                "rtol": self.rtol,
                "atol": self.atol,
                "cantera": ct.__version__,
            }
        )

    def evaluate(self, conditions: pd.DataFrame, progress: bool | None = None) -> pd.DataFrame:
        """Noise-free ``tau_ign`` and ``f_branch`` at the given conditions.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` rows with columns ``T`` [K], ``P`` [atm], ``phi`` [-] inside the space.
        progress : bool or None
            Progress bar over the simulations still to run; ``None`` shows it when more than 20
            conditions are not in the cache.

        Returns
        -------
        DataFrame
            ``n`` rows, same index: ``T``, ``P``, ``phi``, ``tau_ign`` [s], ``f_branch`` [-].

        Raises
        ------
        InputDataError
            If a condition is missing or out of bounds (the message names column and rows).
        NumericsError
            If a mixture does not ignite within ``max_time``.
        """
        self.space.validate(conditions)
        out = conditions[self.space.names].apply(pd.to_numeric).astype(float).copy()
        values = out.to_numpy()
        keys = [condition_key(self.settings_digest, row) for row in values]
        cached = self._cache.get_many(set(keys)) if self._cache is not None else {}
        # One simulation per distinct uncached condition (repeated rows share it).
        first_row: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in cached:
                first_row.setdefault(key, i)
        todo = list(first_row.values())
        show = len(todo) > _PROGRESS_THRESHOLD if progress is None else bool(progress)
        new: dict[str, dict[str, float]] = {}
        try:
            for i in tqdm(todo, desc="Cantera ignition", unit="run", disable=not show):
                T, P, phi = values[i]
                new[keys[i]] = simulate_ignition(
                    T,
                    P,
                    phi,
                    self.dilution,
                    max_time=self.max_time,
                    rtol=self.rtol,
                    atol=self.atol,
                    gas=self._gas,
                )
        finally:
            # Keep what was computed even if a later condition fails.
            if self._cache is not None:
                self._cache.put_many(new)
        results = {**cached, **new}
        for task in self.task_names:
            out[task] = [results[k][task] for k in keys]
        return out

    def clear_cache(self) -> None:
        """Forget every cached result in the cache file (of all problems sharing it)."""
        if self._cache is not None:
            self._cache.clear()
