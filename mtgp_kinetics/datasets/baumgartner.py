"""Droplet-flow Pd-catalysed C-N couplings of Baumgartner et al. (2019) (Summit, MIT).

Framing (default, ``tasks="nucleophile"``): one **task per nucleophile** (aniline, benzamide,
morpholine, phenethylamine), the product yield as a fraction (``yield_<nucleophile>``, logit, kind
``mechanism``), over ``precatalyst`` (4 ligands) and ``base`` (6 organic bases), both categorical,
``base_equiv`` (ln), ``temperature_C``, ``t_res_s`` (ln) and ``precatalyst_loading_frac`` (ln).
The same triflate is coupled with four nucleophiles using the same catalysts and bases: how yield
depends on base strength, temperature and time is partly shared across nucleophiles, partly not
(benzamide needs DMSO and other bases), which is the question a multi-task model answers. Each
experiment used one nucleophile (heterotopic).

``tasks="output"``: the two outputs of every experiment, ``yield`` and ``conversion`` (both logit),
with ``nucleophile`` as a further categorical condition.

Quirks handled (the file is never changed):

* 14 benzamide rows recorded only as "yield and conversion >= 90 %" (``censored``) are left out:
  a Gaussian likelihood cannot use a bound. (A :class:`~mtgp_kinetics.DataWarning` says so.)
* Yields at the "not detected" floor (0.001) and values at or above 1 (up to 1.03 as measured) are
  clipped into :data:`~mtgp_kinetics.datasets._common.FRACTION_BOUNDS` for the logit (warned).
* Base "Triethylamine" (2 rows) is the same base as "TEA".
* The 11 preliminary morpholine rows have no conversion; they keep their yield.
* ``nucleophile`` (from the campaign name) is used, not ``nucleophile_column_as_recorded``, which is
  wrong for the phenethylamine/tBuBrettPhos campaign (see the README).
"""

from __future__ import annotations

from pathlib import Path

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

NUCLEOPHILES = ("Aniline", "Benzamide", "Morpholine", "Phenethylamine")
PRECATALYSTS = ("EPhos", "tBuXPhos", "tBuBrettPhos", "AlPhos")
BASES = ("BTMG", "BTTP", "DBU", "MTBD", "TEA", "TMG")
#: Spellings of the same base in the source.
BASE_ALIASES = {"Triethylamine": "TEA"}

_CONDITIONS = ["precatalyst", "base", "base_equiv", "temperature_C", "t_res_s", "precatalyst_loading_frac"]


def baumgartner_space(nucleophiles: tuple[str, ...] | None = None) -> Space:
    """Conditions, bounds a little wider than measured (1.03-3.29 equiv, 30-100 degC, 66-2045 s, 0.9-2 mol %).

    ``nucleophiles`` adds a categorical ``nucleophile`` condition (the ``tasks="output"`` framing).
    """
    variables: list[Continuous | Categorical] = [
        Categorical("precatalyst", PRECATALYSTS),
        Categorical("base", BASES),
        Continuous("base_equiv", 0.9, 3.5, unit="equiv", transform="log"),
        Continuous("temperature_C", 25.0, 105.0, unit="degC"),
        Continuous("t_res_s", 50.0, 2400.0, unit="s", transform="log"),
        Continuous("precatalyst_loading_frac", 0.008, 0.025, unit="mol/mol", transform="log"),
    ]
    if nucleophiles is not None:
        variables.append(Categorical("nucleophile", nucleophiles))
    return Space(variables)


def _task_name(nucleophile: str) -> str:
    return "yield_" + nucleophile.lower()


def load_baumgartner(
    folder: str | Path,
    *,
    tasks: str = "nucleophile",
    fraction_bounds: tuple[float, float] = FRACTION_BOUNDS,
) -> LoadedData:
    """Read the Baumgartner C-N coupling set (``baumgartner_cn_coupling/``).

    Parameters
    ----------
    folder : str or Path
        The data set's folder (holding ``data.csv``) or the CSV file itself.
    tasks : {"nucleophile", "output"}
        ``"nucleophile"``: one yield task per nucleophile found in the file; ``"output"``: tasks
        ``yield`` and ``conversion``, ``nucleophile`` a condition.
    fraction_bounds : (float, float)
        Yields and conversions are clipped into these bounds before the logit.

    Returns
    -------
    LoadedData
        With the shipped file: 360 rows kept; ``"nucleophile"``: 360 yield observations (aniline
        131, benzamide 70, morpholine 67, phenethylamine 92); ``"output"``: 360 yields and 349
        conversions. ``id``, ``campaign`` and ``nucleophile`` are carried along.

    Warns
    -----
    DataWarning
        For the censored rows left out and for clipped values.
    """
    if tasks not in ("nucleophile", "output"):
        raise InputDataError(f"tasks must be 'nucleophile' or 'output', got {tasks!r}")
    raw = read_raw(
        folder, ["id", "campaign", "nucleophile", *_CONDITIONS, "yield_frac", "conversion_frac", "censored"]
    )
    notes: list[str] = []
    censored = raw["censored"].notna() & (raw["censored"].astype(str).str.strip() != "")
    if censored.any():
        note(
            notes,
            f"baumgartner: {int(censored.sum())} censored row(s) (recorded only as a bound, e.g. "
            f"'>= 90 %') left out",
            stacklevel=2,
        )
    kept = raw[~censored].reset_index(drop=True)
    frame = kept[["id", "campaign", "nucleophile", *_CONDITIONS]].copy()
    frame["base"] = frame["base"].replace(BASE_ALIASES)
    frame["nucleophile"] = frame["nucleophile"].astype(str)
    yield_frac = clip_fraction(kept["yield_frac"], "yield_frac", fraction_bounds, notes)
    present = tuple(n for n in NUCLEOPHILES if (frame["nucleophile"] == n).any())
    extra = tuple(sorted(set(frame["nucleophile"]) - set(NUCLEOPHILES)))
    nucleophiles = present + extra
    if tasks == "nucleophile":
        task_list = []
        for nucleophile in nucleophiles:
            name = _task_name(nucleophile)
            frame[name] = yield_frac.where(frame["nucleophile"] == nucleophile)
            task_list.append(Task(name, transform="logit", kind="mechanism"))
        space = baumgartner_space()
    else:
        frame["yield"] = yield_frac
        frame["conversion"] = clip_fraction(
            kept["conversion_frac"], "conversion_frac", fraction_bounds, notes
        )
        task_list = [
            Task("yield", transform="logit", kind="mechanism"),
            Task("conversion", transform="logit", kind="mechanism"),
        ]
        space = baumgartner_space(nucleophiles)
    frame = frame.dropna(subset=[t.name for t in task_list], how="all").reset_index(drop=True)
    data = clipped_dataset(pd.DataFrame(frame), space, task_list)
    return LoadedData(data, frame, raw, notes)
