"""CH3 + OH: total rate constant and methanol yield from the GRI-Mech 3.0 rate expressions.

A pressure-dependent reaction with competing channels, the kind of system a master-equation study or
a flash-photolysis experiment characterizes. GRI-Mech 3.0 (Cantera's ``gri30.yaml``) gives CH3 + OH
four channels:

* CH3 + OH (+M) -> CH3OH (+M), a Troe falloff reaction (collisional stabilization of the adduct);
* CH3 + OH -> CH2 + H2O, CH3 + OH -> CH2(S) + H2O and CH3 + OH -> CH2O + H2 (modified Arrhenius,
  pressure independent).

Two outputs at temperature ``T`` and pressure ``P`` in a bath gas (N2 by default):

``k_total`` [cm^3 molecule^-1 s^-1]
    the sum of the four rate constants, what an OH- or CH3-decay experiment measures (rate task,
    modelled as log10): it rises with pressure as the falloff channel fills and falls with
    temperature;
``f_CH3OH``
    the share of CH3 + OH that forms methanol, ``k_falloff / k_total`` (mechanism task, logit): the
    stabilization-versus-dissociation switch, near 0.7 at low T and high P and below 1e-3 at high T
    and low P.

Both depend on the falloff term, so they are correlated over the space without being the same
function: ``k_total`` is dominated by the pressure-independent CH2(S) + H2O channel at high T and
low P, where the methanol share still changes by orders of magnitude. The values are the
mechanism's rate expressions evaluated by Cantera (``forward_rate_constants``); no reactor is
integrated, so one condition costs microseconds and no cache is needed.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cached_property

import cantera as ct
import numpy as np
import pandas as pd

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems.base import Problem, is_finite_number
from mtgp_kinetics.space import Continuous, Space
from mtgp_kinetics.tasks import Task

#: Avogadro's number [1/kmol]: Cantera's m^3 kmol^-1 s^-1 -> cm^3 molecule^-1 s^-1 is 1e6 / N_A.
_AVOGADRO_PER_KMOL = 6.02214076e26

#: The reactant pair whose channels are summed.
_REACTANTS = Counter({"CH3": 1, "OH": 1})


def methyl_hydroxyl_channels(gas: ct.Solution) -> tuple[list[int], int]:
    """Indices of every CH3 + OH reaction of ``gas`` and of its (one) falloff channel to CH3OH.

    Raises
    ------
    InputDataError
        If the mechanism has no CH3 + OH reactions, or not exactly one pressure-dependent channel
        forming CH3OH.
    """
    channels = [i for i, r in enumerate(gas.reactions()) if Counter(r.reactants) == _REACTANTS]
    falloff = [
        i
        for i in channels
        if gas.reaction(i).products.get("CH3OH", 0) > 0 and "falloff" in gas.reaction(i).reaction_type
    ]
    if not channels or len(falloff) != 1:
        raise InputDataError(
            "MethylHydroxylChannels: the mechanism needs CH3 + OH reactions with exactly one falloff "
            f"channel to CH3OH; found {len(channels)} CH3 + OH reaction(s), {len(falloff)} such channel(s)"
        )
    return channels, falloff[0]


class MethylHydroxylChannels(Problem):
    """CH3 + OH in a bath gas (GRI-Mech 3.0): total rate constant and methanol yield.

    Space: ``T`` 400-1600 K (modelled as 1000/T), ``P`` 0.01-100 bar (modelled as ln P). Tasks:
    ``k_total`` [cm^3 molecule^-1 s^-1] (log10, rate) and ``f_CH3OH`` (logit, mechanism); see
    :mod:`mtgp_kinetics.problems.methyl_hydroxyl`. Over the space log10 ``k_total`` spans about
    -10.4 to -9.7 and logit ``f_CH3OH`` about -7.8 to 0.9.

    Parameters
    ----------
    bath_gas : str
        Collider species of the mechanism (its third-body efficiency enters the falloff term).
    k_noise : float
        Measurement noise of ``k_total`` for :meth:`sample`: std of ln k (0.10: about 10 %
        multiplicative scatter, typical of a decay-rate measurement).
    f_noise : float
        Measurement noise of ``f_CH3OH`` for :meth:`sample`: std in logit space.
    mechanism : str
        Cantera mechanism file with the CH3 + OH channels.
    """

    name = "ch3_oh"

    def __init__(
        self,
        bath_gas: str = "N2",
        *,
        k_noise: float = 0.10,
        f_noise: float = 0.15,
        mechanism: str = "gri30.yaml",
    ) -> None:
        for label, value in (("k_noise", k_noise), ("f_noise", f_noise)):
            if not is_finite_number(value) or value < 0.0:
                raise InputDataError(
                    f"MethylHydroxylChannels: {label} must be a finite number >= 0, got {value!r}"
                )
        self.bath_gas = str(bath_gas)
        self.k_noise = float(k_noise)
        self.f_noise = float(f_noise)
        self.mechanism = str(mechanism)
        self.space = Space(
            [
                Continuous("T", 400.0, 1600.0, unit="K", transform="inverse"),
                Continuous("P", 0.01, 100.0, unit="bar", transform="log"),
            ]
        )
        self.tasks = [
            Task("k_total", unit="cm3/(molecule s)", transform="log10", kind="rate"),
            Task("f_CH3OH", unit="", transform="logit", kind="mechanism"),
        ]
        gas = self._gas  # loads the mechanism now, so a bad file or bath gas fails here
        if self.bath_gas not in gas.species_names:
            raise InputDataError(
                f"MethylHydroxylChannels: bath gas {self.bath_gas!r} is not a species of {self.mechanism!r}"
            )
        self._channels, self._falloff = methyl_hydroxyl_channels(gas)

    @cached_property
    def _gas(self) -> ct.Solution:
        try:
            return ct.Solution(self.mechanism)
        except ct.CanteraError as error:
            raise InputDataError(
                f"MethylHydroxylChannels: cannot load mechanism {self.mechanism!r}: {error}"
            ) from None

    @property
    def noise_std(self) -> dict[str, float]:
        """Noise std in modelled units: ``k_noise / ln 10`` (log10), ``f_noise`` (logit)."""
        return {"k_total": self.k_noise / math.log(10.0), "f_CH3OH": self.f_noise}

    def rate_constants(self, T: float, P: float) -> np.ndarray:
        """Every CH3 + OH channel's rate constant [cm^3 molecule^-1 s^-1] at ``T`` [K], ``P`` [bar].

        Returns
        -------
        ndarray
            One value per channel, in the order of the mechanism (the falloff channel included,
            at the pressure's bath-gas concentration).
        """
        gas = self._gas
        gas.TPX = float(T), float(P) * 1e5, {self.bath_gas: 1.0}
        return gas.forward_rate_constants[self._channels] * 1e6 / _AVOGADRO_PER_KMOL

    def evaluate(self, conditions: pd.DataFrame, progress: bool | None = None) -> pd.DataFrame:
        """Noise-free ``k_total`` and ``f_CH3OH`` at the given conditions.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` rows with columns ``T`` [K] and ``P`` [bar] inside the space.
        progress : bool or None
            Ignored: an evaluation takes microseconds per condition.

        Returns
        -------
        DataFrame
            ``n`` rows, same index: ``T``, ``P``, ``k_total``, ``f_CH3OH``.

        Raises
        ------
        InputDataError
            If a condition is missing or out of bounds (the message names column and rows).
        """
        self.space.validate(conditions)
        out = conditions[self.space.names].apply(pd.to_numeric).astype(float).copy()
        falloff = self._channels.index(self._falloff)
        totals, shares = [], []
        for T, P in out.to_numpy():
            k = self.rate_constants(T, P)
            totals.append(float(k.sum()))
            shares.append(float(k[falloff] / k.sum()))
        out["k_total"] = totals
        out["f_CH3OH"] = shares
        return out
