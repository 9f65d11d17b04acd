"""Summaries in physical units of a Gaussian predictive in a task's modelled space.

A task modelled as ``z = g(y)`` (``g`` = log10, log, logit or identity) has a Gaussian predictive
``z ~ N(mu, s^2)``. In physical units:

* ``mean`` is ``g^{-1}(mu)``: the **median** of ``y`` for log, log10 and logit tasks (``g`` is monotone,
  so medians map to medians), the mean for untransformed tasks;
* ``lower``/``upper`` are ``g^{-1}(mu -/+ z_a s)``: the central interval's endpoints mapped back, exact
  because ``g`` is monotone;
* ``std`` is the standard deviation of ``y`` itself: log-normal in closed form
  (``sqrt(exp(s^2) - 1) exp(mu + s^2/2)`` in natural-log units), logit-normal by Gauss-Hermite
  quadrature (40 nodes), ``s`` for untransformed tasks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from mtgp_kinetics.transforms import OutputTransform

_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def physical_std(transform: OutputTransform, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Std of ``g^{-1}(z)`` for ``z ~ N(mu, s^2)``, elementwise over arrays of equal shape."""
    mu, s = np.asarray(mu, float), np.asarray(s, float)
    if transform.name == "none":
        return s.copy()
    if transform.name in ("log", "log10"):
        scale = math.log(10.0) if transform.name == "log10" else 1.0
        m, v = mu * scale, (s * scale) ** 2
        return np.sqrt(np.expm1(v)) * np.exp(m + 0.5 * v)
    # logit-normal: moments by quadrature over standard-normal nodes.
    z = mu[..., None] + s[..., None] * _GH_NODES
    y = transform.inverse(z)
    first = (y * _GH_WEIGHTS).sum(-1)
    second = (y**2 * _GH_WEIGHTS).sum(-1)
    return np.sqrt(np.clip(second - first**2, 0.0, None))


def central_interval(
    transform: OutputTransform, mu: np.ndarray, s: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Physical ``(lower, upper)`` of the central ``level`` interval of ``N(mu, s^2)`` mapped back."""
    z = norm.ppf(0.5 + level / 2.0)
    return transform.inverse(mu - z * s), transform.inverse(mu + z * s)
