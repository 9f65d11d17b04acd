"""A fit made of several candidate fits says each of its warnings once, at the user's line."""

from __future__ import annotations

import warnings

import pytest

from mtgp_kinetics.errors import ConvergenceWarning, relayed_warnings


def candidate_fits() -> None:
    with relayed_warnings("compare, kernel 'lmc': "):
        for _ in range(3):
            warnings.warn("stopped at max_iter", ConvergenceWarning, stacklevel=2)


def test_package_warnings_are_said_once_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        candidate_fits()  # the line the warning must point at
    assert len(caught) == 1
    assert str(caught[0].message) == "compare, kernel 'lmc': stopped at max_iter"
    assert caught[0].filename == __file__


def test_other_libraries_warnings_keep_their_origin():
    def other() -> None:
        with relayed_warnings():
            warnings.warn_explicit("old API", DeprecationWarning, "/lib/x.py", 7, module="lib.x")

    with pytest.warns(DeprecationWarning) as caught:
        other()
    assert caught[0].filename == "/lib/x.py" and caught[0].lineno == 7
