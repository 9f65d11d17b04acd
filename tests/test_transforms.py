"""Tests of mtgp_kinetics.transforms: round trips, derivatives, logit stability, bad names."""

from __future__ import annotations

import numpy as np
import pytest

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.transforms import (
    CONDITION_TRANSFORMS,
    OUTPUT_TRANSFORMS,
    condition_transform,
    output_transform,
)

# float64 round trips through log/exp or 1000/x lose a few ulps: 1e-12 relative is ample.
RTOL = 1e-12

POSITIVE = np.array([1e-9, 1e-3, 0.5, 1.0, 7.3, 1e3, 1e9])
FRACTIONS = np.array([1e-12, 1e-4, 0.1, 0.5, 0.9, 1 - 1e-6])


@pytest.mark.parametrize("name", sorted(CONDITION_TRANSFORMS))
def test_condition_round_trip(name: str) -> None:
    tf = condition_transform(name)
    np.testing.assert_allclose(tf.inverse(tf.forward(POSITIVE)), POSITIVE, rtol=RTOL)


def test_condition_values() -> None:
    np.testing.assert_allclose(condition_transform("inverse").forward(np.array([1000.0])), [1.0])
    np.testing.assert_allclose(condition_transform("log").forward(np.array([np.e])), [1.0])
    assert condition_transform(None).name == "none"
    assert condition_transform("LOG").name == "log"
    assert condition_transform("inverse").needs_positive
    assert not condition_transform("none").needs_positive


@pytest.mark.parametrize("name", sorted(OUTPUT_TRANSFORMS))
def test_output_round_trip(name: str) -> None:
    tf = output_transform(name)
    y = {"logit": FRACTIONS, "logit_percent": 100.0 * FRACTIONS}.get(name, POSITIVE)
    np.testing.assert_allclose(tf.inverse(tf.forward(y)), y, rtol=RTOL)


@pytest.mark.parametrize("name", sorted(OUTPUT_TRANSFORMS))
def test_output_derivative_matches_finite_difference(name: str) -> None:
    tf = output_transform(name)
    y = {
        "logit": np.array([0.05, 0.3, 0.7]),
        "logit_percent": np.array([0.5, 30.0, 70.0]),
    }.get(name, np.array([0.05, 2.0, 300.0]))
    h = 1e-6 * y
    numeric = (tf.forward(y + h) - tf.forward(y - h)) / (2 * h)
    # Central difference error is O(h^2) plus rounding ~1e-16 / 1e-6: 1e-7 relative is safe.
    np.testing.assert_allclose(tf.derivative(y), numeric, rtol=1e-7)


def test_output_values() -> None:
    np.testing.assert_allclose(output_transform("log10").forward(np.array([1e-3])), [-3.0])
    np.testing.assert_allclose(output_transform("logit").forward(np.array([0.5])), [0.0])
    assert output_transform(None).name == "none"


def test_is_valid_domains() -> None:
    y = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.inf, np.nan])
    np.testing.assert_array_equal(
        output_transform("log10").is_valid(y), [False, False, True, True, True, False, False]
    )
    np.testing.assert_array_equal(
        output_transform("logit").is_valid(y), [False, False, True, False, False, False, False]
    )
    np.testing.assert_array_equal(
        output_transform("none").is_valid(y), [True, True, True, True, True, False, False]
    )
    assert output_transform("logit").domain == "in the open interval (0, 1)"


def test_logit_stable_at_40() -> None:
    tf = output_transform("logit")
    z = np.array([-745.0, -40.0, 0.0, 40.0, 745.0])
    y = tf.inverse(z)  # filterwarnings=error: any overflow warning fails the test
    assert np.all(np.isfinite(y))
    assert y[2] == 0.5
    assert y[3] == 1.0 and y[4] == 1.0  # 1 - 4e-18 rounds to 1 in float64
    assert y[0] > 0.0
    # exp(-40) / (1 + exp(-40)) keeps full relative precision on the small side.
    np.testing.assert_allclose(y[1], np.exp(-40.0) / (1.0 + np.exp(-40.0)), rtol=RTOL)
    np.testing.assert_allclose(tf.forward(y[1:2]), [-40.0], rtol=RTOL)
    # Symmetry 1 - expit(z) = expit(-z) at moderate z, where 1 - y is representable.
    np.testing.assert_allclose(1.0 - tf.inverse(np.array([10.0])), tf.inverse(np.array([-10.0])), rtol=1e-9)


@pytest.mark.parametrize("lookup", [condition_transform, output_transform])
def test_bad_transform_name(lookup) -> None:
    with pytest.raises(InputDataError, match=r"unknown .* transform 'sqrt'; choose one of"):
        lookup("sqrt")
