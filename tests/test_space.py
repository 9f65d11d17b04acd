"""Tests of mtgp_kinetics.space: model coordinates, bounds, categorical codes, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.space import Categorical, Continuous, Space

# Round trips through 1000/x, ln/exp and the [0, 1] scaling lose a few ulps in float64.
RTOL = 1e-12


@pytest.fixture
def space() -> Space:
    return Space(
        [
            Continuous("T", 700.0, 1400.0, "K", "inverse"),
            Continuous("P", 1.0, 100.0, "bar", "log"),
            Continuous("phi", 0.3, 3.0),
            Categorical("gas", ("N2", "Ar", "He")),
        ]
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "T": [700.0, 1000.0, 1400.0],
            "P": [1.0, 10.0, 100.0],
            "phi": [0.3, 1.0, 3.0],
            "gas": ["N2", "He", "Ar"],
        },
        index=["a", "b", "c"],
    )


def test_to_model_values(space: Space, frame: pd.DataFrame) -> None:
    X = space.to_model(frame)
    assert X.shape == (3, 4) and X.dtype == torch.float64
    # inverse flips the order: the highest temperature has the smallest 1000/T.
    np.testing.assert_allclose(
        X[:, 0].numpy(),
        [1.0, (1000 / 1000 - 1000 / 1400) / (1000 / 700 - 1000 / 1400), 0.0],
        rtol=RTOL,
        atol=1e-15,
    )
    np.testing.assert_allclose(X[:, 1].numpy(), [0.0, 0.5, 1.0], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(X[:, 2].numpy(), [0.0, 0.7 / 2.7, 1.0], rtol=RTOL, atol=1e-15)
    np.testing.assert_array_equal(X[:, 3].numpy(), [0.0, 2.0, 1.0])  # level codes


def test_round_trip(space: Space, frame: pd.DataFrame) -> None:
    back = space.from_model(space.to_model(frame))
    for name in ["T", "P", "phi"]:
        np.testing.assert_allclose(back[name].to_numpy(), frame[name].to_numpy(), rtol=RTOL)
    assert list(back["gas"]) == list(frame["gas"])


def test_round_trip_random(space: Space) -> None:
    U = np.random.default_rng(0).random((50, 4))
    U[:, 3] = np.floor(U[:, 3] * 3)
    X = space.to_model(space.from_model(U))
    np.testing.assert_allclose(X.numpy(), U, rtol=RTOL, atol=1e-12)


def test_model_bounds_map_inside_physical_bounds(space: Space) -> None:
    bounds = space.model_bounds()
    torch.testing.assert_close(bounds, torch.tensor([[0.0, 0, 0, 0], [1.0, 1, 1, 2]], dtype=torch.float64))
    corners = space.from_model(bounds)
    space.validate(corners)  # exp(ln 100) = 100.00000000000004 must not fall out of bounds
    assert corners["P"].max() == 100.0 and corners["T"].tolist() == [1400.0, 700.0]


def test_from_model_extrapolates_outside_unit_interval() -> None:
    v = Continuous("P", 1.0, 100.0, "bar", "log")
    np.testing.assert_allclose(v.from_unit_interval(np.array([-0.5, 1.5])), [0.1, 1000.0], rtol=RTOL)


def test_structure(space: Space) -> None:
    assert space.names == ["T", "P", "phi", "gas"]
    assert space.dim == len(space) == 4
    assert space.continuous_dims == [0, 1, 2] and space.categorical_dims == [3]
    assert space["P"].model_bounds == pytest.approx((0.0, np.log(100.0)))
    assert space["T"].label == "T [K]"
    with pytest.raises(KeyError):
        space["x"]
    assert Space.from_dict(space.to_dict()) == space


def test_sample_is_seeded_and_valid(space: Space) -> None:
    a = space.sample(16, seed=3)
    pd.testing.assert_frame_equal(a, space.sample(16, seed=3))
    space.validate(a)
    space.validate(space.sample(16, seed=3, method="uniform"))
    with pytest.raises(InputDataError, match="method must be"):
        space.sample(4, method="grid")


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("T", "abc", r"column 'T': non-numeric value\(s\) at row\(s\) b: \['abc'\]"),
        ("P", np.nan, r"column 'P': missing, NaN or infinite condition at row\(s\) b"),
        ("P", np.inf, r"column 'P': missing, NaN or infinite condition at row\(s\) b"),
        ("T", 1500.0, r"column 'T': row b: 1500 outside the bounds"),
        ("gas", "Xe", r"column 'gas': unknown level\(s\) \['Xe'\] at row\(s\) b; allowed"),
    ],
)
def test_validate_names_column_and_rows(space, frame, column, value, match) -> None:
    frame[column] = frame[column].astype(object)
    frame.loc["b", column] = value
    with pytest.raises(InputDataError, match=match):
        space.validate(frame)
    with pytest.raises(InputDataError, match=match):
        space.to_model(frame)


def test_out_of_bounds_warns_where_asked_and_a_celsius_hint_keeps_to_kelvin_under_inverse(
    space, frame
) -> None:
    frame.loc["b", "T"] = 1500.0
    with pytest.warns(DataWarning, match=r"column 'T': row b: 1500 outside the bounds .* extrapolate"):
        space.validate(frame, outside="warn")
    frame.loc["b", "T"] = 0.0
    with pytest.raises(InputDataError, match=r"column 'T': row b: 0 <= 0, which its 'inverse' transform"):
        space.validate(frame, outside="warn")
    linear_kelvin = Space([Continuous("T", 700.0, 1400.0, "K"), *space.variables[1:]])
    with pytest.raises(InputDataError, match=r"column 'T': row b: -5 below absolute zero \(0 K\)"):
        linear_kelvin.validate(frame.assign(T=[700.0, -5.0, 900.0]), outside="warn")
    with pytest.raises(InputDataError, match="outside must be 'error' or 'warn'"):
        space.validate(frame, outside="ignore")
    celsius = frame.assign(T=[500.0, 600.0, 700.0])  # 773-973 K: in bounds once read as degC
    with pytest.raises(InputDataError, match=r"read as degrees Celsius: .*\(\+ 273.15\) \(1000 / T needs"):
        space.validate(celsius)  # no advice to declare unit='degC', which 'inverse' refuses
    linear = Space([Continuous("T", 700.0, 1400.0, "K"), *space.variables[1:]])
    with pytest.raises(InputDataError, match=r"or declare the variable with unit='degC'"):
        linear.validate(celsius)


def test_validate_missing_column(space, frame) -> None:
    with pytest.raises(InputDataError, match=r"missing condition column\(s\) \['phi'\]"):
        space.validate(frame.drop(columns="phi"))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Continuous("T", 10.0, 5.0), r"lower \(10.0\) must be < upper"),
        (lambda: Continuous("P", 0.0, 5.0, transform="log"), "needs lower > 0"),
        (lambda: Continuous("T", 1.0, np.inf), "upper must be a finite number"),
        (lambda: Continuous("T", -5.0, 100.0, unit="K"), r"lower \(-5 K\) is below absolute zero"),
        (lambda: Continuous("T", -300.0, 100.0, unit="degC"), r"below absolute zero \(-273.15 degC\)"),
        (lambda: Continuous("T", 1.0, 2.0, transform="sqrt"), "unknown condition transform"),
        (lambda: Categorical("gas", ("N2", "N2")), "levels must be distinct"),
        (lambda: Categorical("gas", ()), "at least one level"),
        (lambda: Space([Continuous("T", 1, 2), Categorical("T", ("a",))]), "duplicated"),
        (lambda: Space([]), "at least one variable"),
    ],
)
def test_bad_definitions(make, match) -> None:
    with pytest.raises(InputDataError, match=match):
        make()


@pytest.mark.parametrize("unit", ["degC", "°C", "C", "celsius", "oC", "degF"])
def test_inverse_transform_of_a_celsius_temperature_is_rejected(unit):
    with pytest.raises(InputDataError, match=r"T_C.*kelvin"):
        Continuous("T_C", 30.0, 110.0, unit=unit, transform="inverse")
    Continuous("T_C", 30.0, 110.0, unit=unit)  # modelled linearly: fine


def test_categorical_kernel_diagonal_matches_the_full_matrix():
    from botorch.models.kernels.categorical import CategoricalKernel

    from mtgp_kinetics.models.input_kernel import LevelKernel

    kernel = LevelKernel(ard_num_dims=2)
    kernel.lengthscale = torch.tensor([[0.7, 2.0]], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (40, 2), generator=generator).double()
    y = torch.randint(0, 3, (40, 2), generator=generator).double()
    full = CategoricalKernel.forward(kernel, x, y)
    torch.testing.assert_close(kernel.forward(x, y, diag=True), torch.diagonal(full))
    torch.testing.assert_close(kernel.forward(x, y), full)
