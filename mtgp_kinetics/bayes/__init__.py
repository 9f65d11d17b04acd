"""Fully Bayesian multi-task GPs: NUTS over the hyperparameters, ArviZ diagnostics, mixture predictions.

Use ``mtgp_kinetics.fit(data, kernel, method="nuts")``; see ``docs/bayesian.md``.
"""

from mtgp_kinetics.bayes.fit import fit_nuts
from mtgp_kinetics.bayes.model import BayesianKineticsModel
from mtgp_kinetics.bayes.sampler import NutsSettings

__all__ = ["BayesianKineticsModel", "NutsSettings", "fit_nuts"]
