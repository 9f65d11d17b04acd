"""Shock-tube ignition delays of the four butanol isomers (ChemKED-database, CC-BY-4.0).

Framing: one **task per isomer** (``tau_ign_<isomer>_us``, modelled as log10 of the delay, kind
``rate``), heterotopic: each experiment measured one isomer. The isomers share their chemistry at
high temperature (H-abstraction and the H2/O2 core), so their delays are strongly correlated in
Arrhenius coordinates, which is what a multi-task model can use. Conditions: ``T_K`` (as 1000/T),
``P_atm`` (ln P), ``phi`` (ln phi) and ``x_O2`` (ln of the O2 mole fraction, which carries the
dilution: Ar-diluted mixtures have 1.5-6 % O2, N2/air mixtures 6-40 %).

Quirks of the source handled here (the file is never changed): rows with a ``qc_flag`` (suspect
composition, phi inconsistent with the composition, a duplicated datapoint; 42 rows) are left out
by default with a :class:`~mtgp_kinetics.DataWarning` saying how many.
"""

from __future__ import annotations

from pathlib import Path

from mtgp_kinetics.dataset import Dataset
from mtgp_kinetics.datasets._common import LoadedData, note, read_raw
from mtgp_kinetics.space import Continuous, Space
from mtgp_kinetics.tasks import Task

#: Isomers in task order, and the column of each one's delay.
ISOMERS = ("n-butanol", "i-butanol", "2-butanol", "t-butanol")


def delay_column(isomer: str) -> str:
    """Output column of an isomer, e.g. ``tau_ign_n_butanol_us``."""
    return "tau_ign_" + isomer.replace("-", "_") + "_us"


def butanol_space() -> Space:
    """Conditions of the butanol set, with bounds a little wider than the measured ranges.

    Measured: T 716-1825 K, P 0.91-45 atm, phi 0.25-3.34, x_O2 0.015-0.41.
    """
    return Space(
        [
            Continuous("T_K", 650.0, 2000.0, unit="K", transform="inverse"),
            Continuous("P_atm", 0.5, 60.0, unit="atm", transform="log"),
            Continuous("phi", 0.2, 4.0, transform="log"),
            Continuous("x_O2", 0.01, 0.5, transform="log"),
        ]
    )


def butanol_tasks() -> list[Task]:
    """One log10 ignition-delay task per isomer, in :data:`ISOMERS` order."""
    return [Task(delay_column(i), unit="us", transform="log10", kind="rate") for i in ISOMERS]


def load_butanol(folder: str | Path, *, include_flagged: bool = False) -> LoadedData:
    """Read the butanol ignition-delay set (``chemked_butanol_ignition/``).

    Parameters
    ----------
    folder : str or Path
        The data set's folder (holding ``data.csv``) or the CSV file itself.
    include_flagged : bool
        Keep rows with a non-empty ``qc_flag``. Their composition columns are probably wrong
        (see the set's README), so they are left out by default.

    Returns
    -------
    LoadedData
        ``data``: 4 tasks (one per isomer, :data:`ISOMERS` order) over ``T_K``, ``P_atm``, ``phi``,
        ``x_O2``; with the shipped file and the default, 483 observations (n 197, i 110, 2 112,
        t 64). The source row's ``id``, ``reference`` and ``qc_flag`` are carried along.

    Warns
    -----
    DataWarning
        Naming how many flagged rows were left out.
    """
    columns = [delay_column(i) for i in ISOMERS]
    raw = read_raw(folder, ["id", "fuel", "T_K", "P_atm", "phi", "x_O2", "qc_flag", "reference", *columns])
    notes: list[str] = []
    flagged = raw["qc_flag"].notna() & (raw["qc_flag"].astype(str).str.strip() != "")
    kept = raw if include_flagged else raw[~flagged]
    if flagged.any() and not include_flagged:
        kinds = raw.loc[flagged, "qc_flag"].value_counts().to_dict()
        note(notes, f"butanol: {int(flagged.sum())} row(s) with a qc_flag left out {kinds}", stacklevel=2)
    frame = kept[["id", "T_K", "P_atm", "phi", "x_O2", *columns, "reference", "qc_flag"]].reset_index(
        drop=True
    )
    data = Dataset.from_frame(frame, butanol_space(), butanol_tasks(), form="wide")
    return LoadedData(data, frame, raw, notes)
