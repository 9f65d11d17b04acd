"""mtgp_kinetics: Bayesian multi-task Gaussian processes for chemical kinetics."""

from mtgp_kinetics.api import fit
from mtgp_kinetics.comparison import NegativeTransferWarning, compare
from mtgp_kinetics.dataset import Dataset
from mtgp_kinetics.derived import activation_energy, exponent, level_crossing, probability_above
from mtgp_kinetics.errors import (
    ConvergenceWarning,
    DataWarning,
    FewObservationsWarning,
    InputDataError,
    ModelFileError,
    MtgpError,
    MtgpWarning,
    NotFittedError,
    NumericsError,
    NumericsWarning,
    OutlierWarning,
)
from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.models.structure import KernelSpec, LatentSpec
from mtgp_kinetics.persistence import load
from mtgp_kinetics.space import Categorical, Continuous, Space
from mtgp_kinetics.tasks import Task

__version__ = "0.1.0"

#: Names resolved on first use, so that ``import mtgp_kinetics`` does not import pyro and ArviZ.
_LAZY = {
    "BayesianKineticsModel": "mtgp_kinetics.bayes",
    "NutsSettings": "mtgp_kinetics.bayes",
    "Campaign": "mtgp_kinetics.campaign",
}


def __getattr__(name: str) -> object:
    """The fully Bayesian model's classes and ``mk.Campaign``, imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mtgp_kinetics' has no attribute {name!r}")


__all__ = [
    "BayesianKineticsModel",
    "Campaign",
    "Categorical",
    "Continuous",
    "ConvergenceWarning",
    "DataWarning",
    "Dataset",
    "FewObservationsWarning",
    "InputDataError",
    "KernelSpec",
    "KineticsModel",
    "LatentSpec",
    "ModelFileError",
    "MtgpError",
    "MtgpWarning",
    "NegativeTransferWarning",
    "NotFittedError",
    "NumericsError",
    "NumericsWarning",
    "NutsSettings",
    "OutlierWarning",
    "Space",
    "Task",
    "__version__",
    "activation_energy",
    "compare",
    "exponent",
    "fit",
    "level_crossing",
    "load",
    "probability_above",
]
