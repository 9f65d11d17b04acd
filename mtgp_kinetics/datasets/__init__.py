"""Loaders of real measured data sets, and a pool-based active-learning replay on any dataset.

Each loader takes the path of a data set's folder (holding ``data.csv`` as distributed under
``shared/data/``; the package ships no data) and returns a :class:`LoadedData` whose ``data`` is a
:class:`~mtgp_kinetics.Dataset` with the space, tasks and transforms a kineticist would choose, the
set's quirks (quality flags, censored values, values at the bounds) handled in code, each with a
:class:`~mtgp_kinetics.DataWarning`. See ``docs/real_data.md``.
"""

from mtgp_kinetics.datasets._common import FRACTION_BOUNDS, LoadedData
from mtgp_kinetics.datasets.baumgartner import load_baumgartner
from mtgp_kinetics.datasets.butanol import load_butanol
from mtgp_kinetics.datasets.reizman import load_reizman
from mtgp_kinetics.datasets.replay import ReplayResult, replay

__all__ = [
    "FRACTION_BOUNDS",
    "LoadedData",
    "ReplayResult",
    "load_baumgartner",
    "load_butanol",
    "load_reizman",
    "replay",
]
