"""Exception and warning families of mtgp_kinetics.

Every error raised for a user mistake is an :class:`MtgpError`, so callers can catch the toolkit's
errors in one place; the subclasses also derive from the matching built-in (``ValueError``,
``AttributeError``) so generic handlers keep working.
"""

from __future__ import annotations


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
