"""Exception and warning families of mtgp_kinetics.

Every error raised for a user mistake is an :class:`MtgpError`, so callers can catch the toolkit's
errors in one place; the subclasses also derive from the matching built-in (``ValueError``,
``AttributeError``) so generic handlers keep working.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from collections.abc import Iterator


class MtgpError(Exception):
    """Base class of every error raised by mtgp_kinetics."""


class InputDataError(MtgpError, ValueError):
    """Bad user input: a data frame, a condition, a task definition or an argument.

    The message names the column, row(s) or parameter at fault and says how to fix it.
    """


class NotFittedError(MtgpError, AttributeError):
    """A model was used before it was fitted."""


class ModelFileError(MtgpError, ValueError):
    """A saved model file is corrupted, of an unknown format version or unsafe to load."""


class NumericsError(MtgpError, RuntimeError):
    """Numerical trouble that could not be repaired (e.g. Cholesky failed at the largest jitter)."""


class MtgpWarning(UserWarning):
    """Base class of every warning issued by mtgp_kinetics."""


class NumericsWarning(MtgpWarning):
    """Numerical trouble that was repaired (jitter added, a restart discarded); says what was done."""


class ConvergenceWarning(MtgpWarning):
    """An optimizer or sampler did not converge as expected."""


class DataWarning(MtgpWarning):
    """Something in the input data deserves attention but was kept (never silently dropped)."""


class FewObservationsWarning(DataWarning):
    """A task has too few observations for its MAP intervals to be trusted (see ``mk.fit``)."""


class OutlierWarning(DataWarning):
    """Observations the fitted model cannot explain (see ``KineticsModel.outliers``); they were kept."""


@contextlib.contextmanager
def relayed_warnings(prefix: str = "", stacklevel: int = 4) -> Iterator[None]:
    """Collect the package's warnings of a block and issue each distinct one once, at the caller's line.

    A fit made of several candidate fits (the default model, :func:`mtgp_kinetics.compare`) would
    otherwise repeat the same warning once per candidate, pointing inside the package; ``prefix``
    says which part issued it (e.g. ``"compare, kernel 'lmc': "``).

    Parameters
    ----------
    prefix : str
        Put before every message.
    stacklevel : int
        Passed to :func:`warnings.warn` (4: the caller of the function that holds this block).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[tuple[type, str]] = set()
    for record in caught:
        if not issubclass(record.category, MtgpWarning):
            # Another library's warning: passed on from where it was issued, so the filters that
            # apply to that library (a DeprecationWarning ignored outside __main__) still do.
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
            continue
        key = (record.category, str(record.message))
        if key in seen:
            continue
        seen.add(key)
        warnings.warn(f"{prefix}{record.message}", record.category, stacklevel=stacklevel)


def check_integer(value: object, name: str, minimum: int, where: str = "") -> int:
    """``value`` as an int >= ``minimum`` (numpy integers too, not bools), else :class:`InputDataError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        prefix = f"{where}: " if where else ""
        raise InputDataError(f"{prefix}{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive_number(value: object, name: str) -> float:
    """``value`` as a float if it is a finite real number > 0 (numpy scalars too, not bools).

    Raises
    ------
    InputDataError
        ``"<name> must be a finite number > 0, got <value>"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputDataError(f"{name} must be a finite number > 0, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise InputDataError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_probability(value: object, name: str = "level", where: str = "") -> float:
    """``value`` as a float in (0, 1) (numpy scalars included), or :class:`InputDataError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        prefix = f"{where}: " if where else ""
        hint = (
            " (a per cent? give 0.95 for 95 %)"
            if isinstance(value, numbers.Real) and 1 < value <= 100
            else ""
        )
        raise InputDataError(f"{prefix}{name} must be a probability in (0, 1), got {value!r}{hint}")
    return float(value)
