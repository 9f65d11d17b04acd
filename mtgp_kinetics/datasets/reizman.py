"""Automated flow Suzuki-Miyaura couplings of Reizman et al. (2016), cases 1-3 (Summit, MIT).

Framing (default, ``tasks="case"``): one **task per case**, the yield of that substrate pair
(``yield_case<k>``, fraction, modelled as logit, kind ``mechanism``: a selectivity-like fraction),
over the same conditions: ``catalyst`` (8 precatalyst/ligand combinations, categorical),
``t_res_s`` (ln), ``temperature_C`` and ``catalyst_loading_mol_pct`` (ln). The cases are different
substrate pairs run with the same catalysts and the same reactor, so how the yield responds to
catalyst, time and temperature is largely shared: transfer between cases is what a chemist would
expect a multi-task model to exploit. Each experiment measured one case (heterotopic).

``tasks="output"`` instead models two outputs of every experiment, yield (logit) and turnover
number (log10), with ``case`` as a further categorical condition. TON is nearly yield / loading
(see the README), so that framing mostly tests whether the model finds an (almost) deterministic
relation.

Quirks handled (the file is never changed): yields at the detection floor (0.1 %, 0.6 %) are clipped
into :data:`~mtgp_kinetics.datasets._common.FRACTION_BOUNDS` for the logit, TON values of 0 are
raised to the smallest positive TON of the file for the log, each with a
:class:`~mtgp_kinetics.DataWarning`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mtgp_kinetics.datasets._common import (
    FRACTION_BOUNDS,
    LoadedData,
    clip_fraction,
    clipped_dataset,
    note,
    read_raw,
)
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.space import Categorical, Continuous, Space
from mtgp_kinetics.tasks import Task

#: Precatalyst/ligand labels of the study (every case uses the same eight).
CATALYSTS = ("P1-L1", "P1-L2", "P1-L3", "P1-L4", "P1-L5", "P1-L6", "P1-L7", "P2-L1")

_CONDITIONS = ["catalyst", "t_res_s", "temperature_C", "catalyst_loading_mol_pct"]


def reizman_space(cases: tuple[str, ...] | None = None) -> Space:
    """Conditions: the study's domain (t_res 60-600 s, 30-110 degC, loading 0.5-2.5 mol %), a bit wider.

    ``cases`` adds a categorical ``case`` condition (the ``tasks="output"`` framing).
    """
    variables: list[Continuous | Categorical] = [
        Categorical("catalyst", CATALYSTS),
        Continuous("t_res_s", 50.0, 700.0, unit="s", transform="log"),
        Continuous("temperature_C", 25.0, 115.0, unit="degC"),
        Continuous("catalyst_loading_mol_pct", 0.4, 2.7, unit="mol %", transform="log"),
    ]
    if cases is not None:
        variables.append(Categorical("case", cases))
    return Space(variables)


def load_reizman(
    folder: str | Path,
    *,
    tasks: str = "case",
    fraction_bounds: tuple[float, float] = FRACTION_BOUNDS,
) -> LoadedData:
    """Read the Reizman Suzuki set (``reizman_suzuki_cases_1_3/``, or another case file alike).

    Parameters
    ----------
    folder : str or Path
        The data set's folder (holding ``data.csv``) or the CSV file itself.
    tasks : {"case", "output"}
        ``"case"``: one yield task per case found in the file (``yield_case1``, ...);
        ``"output"``: tasks ``yield`` (logit) and ``ton`` (log10), ``case`` a condition.
    fraction_bounds : (float, float)
        Yields (as fractions) are clipped into these bounds before the logit.

    Returns
    -------
    LoadedData
        With the shipped file: ``"case"``: 288 observations, 96 per case; ``"output"``: 576
        (288 yields, 288 TONs). ``id`` and ``case`` are carried along.

    Warns
    -----
    DataWarning
        When yields are clipped (the shipped file: the 0.1 % and 0.6 % floor values) or TON = 0
        values raised.
    """
    if tasks not in ("case", "output"):
        raise InputDataError(f"tasks must be 'case' or 'output', got {tasks!r}")
    raw = read_raw(folder, ["id", "case", *_CONDITIONS, "yield_pct", "ton"])
    notes: list[str] = []
    frame = raw[["id", *_CONDITIONS]].copy()
    frame["case"] = raw["case"].astype(str)
    fraction = clip_fraction(
        pd.to_numeric(raw["yield_pct"], errors="coerce") / 100.0, "yield_pct / 100", fraction_bounds, notes
    )
    cases = tuple(sorted(frame["case"].unique(), key=_case_order))
    if tasks == "case":
        task_list = []
        for case in cases:
            name = f"yield_case{case}"
            frame[name] = fraction.where(frame["case"] == case)
            task_list.append(Task(name, unit="", transform="logit", kind="mechanism"))
        space = reizman_space()
    else:
        ton = pd.to_numeric(raw["ton"], errors="coerce").astype(float)
        zero = ton <= 0
        if zero.any():
            floor = float(ton[ton > 0].min())
            note(
                notes,
                f"ton: {int(zero.sum())} value(s) of 0 raised to {floor} (the smallest positive TON) "
                f"for the log",
                stacklevel=2,
            )
            ton = ton.where(~zero, floor)
        frame["yield"] = fraction
        frame["ton"] = ton
        task_list = [
            Task("yield", transform="logit", kind="mechanism"),
            Task("ton", transform="log10", kind="rate"),
        ]
        space = reizman_space(cases)
    data = clipped_dataset(frame, space, task_list)
    return LoadedData(data, frame, raw, notes)


def _case_order(case: str) -> tuple[float, str]:
    try:
        return (float(case), case)
    except ValueError:
        return (np.inf, case)
