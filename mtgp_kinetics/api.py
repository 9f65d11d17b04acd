"""``mtgp_kinetics.fit``: from a dataset to a fitted multi-task model in one call."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mtgp_kinetics.comparison import transfer_report, warn_negative_transfer
from mtgp_kinetics.dataset import require_dataset
from mtgp_kinetics.default_model import fit_default
from mtgp_kinetics.errors import FewObservationsWarning, InputDataError, OutlierWarning, relayed_warnings
from mtgp_kinetics.model import OUTLIER_Z, KineticsModel
from mtgp_kinetics.models.means import MEAN_NAMES
from mtgp_kinetics.models.structure import KernelSpec, kernel_spec
from mtgp_kinetics.task_by_task import fit_model

if TYPE_CHECKING:
    from mtgp_kinetics.bayes.model import BayesianKineticsModel
    from mtgp_kinetics.dataset import Dataset

#: Fewest observations of a task below which ``fit`` warns that its MAP intervals are too narrow
#: (:func:`warn_few_observations`).
MIN_OBSERVATIONS_FOR_INTERVALS = 4

#: Largest training set on which ``fit`` checks for outlying observations (:func:`warn_outliers`):
#: the check inverts the ``n x n`` training covariance (measured: 0.07 s at 1000 observations, 1 s at 3000).
OUTLIER_CHECK_MAX_OBSERVATIONS = 3000

#: Flagged observations named in the warning (all of them are in ``model.outliers()``).
OUTLIERS_LISTED = 5


def fit(
    data: Dataset,
    kernel: str | KernelSpec | None = None,
    *,
    mean: str = "constant",
    method: str = "map",
    restarts: int = 4,
    max_iter: int = 300,
    seed: int = 0,
    check_transfer: bool = True,
    num_warmup: int | None = None,
    num_samples: int | None = None,
    num_chains: int | None = None,
    progress: bool = True,
) -> KineticsModel | BayesianKineticsModel:
    """Fit a multi-task GP to a dataset.

    Parameters
    ----------
    data : Dataset
        Conditions and (possibly heterotopic) observations of the tasks.
    kernel : {"icm", "lmc", "independent", "shared+private"} or KernelSpec, optional
        Coregionalization structure. ``None`` (recommended) fits the default model: a shared
        process plus a private process per task, where every task the sharing would hurt (by
        leave-one-condition-out comparison with independent GPs) opts out of the shared process
        (:mod:`mtgp_kinetics.default_model`; ``model.selection_`` says what was chosen and why).
    mean : {"constant", "linear"}
        Per-task mean: a constant, or a constant plus a slope per continuous condition in the
        modelled coordinates (Arrhenius-aware: ``log k = a + b 1000/T + c ln P`` plus the GP).
    method : {"map", "nuts"}
        Hyperparameter inference. ``"map"``: maximum a posteriori with restarts. ``"nuts"``: fully
        Bayesian, NUTS over all hyperparameters started from the MAP fit (``kernel=None``: the
        structure the default model chooses), returning a
        :class:`~mtgp_kinetics.bayes.BayesianKineticsModel` whose predictions average over the
        draws (see ``docs/bayesian.md``).
    restarts : int
        MAP starts (the default initialization plus ``restarts - 1`` random ones).
    max_iter : int
        Optimizer iterations per start.
    seed : int
        Seed of the random starts.
    check_transfer : bool
        For a kernel that shares across tasks, also fit independent GPs (MAP) and warn
        (:class:`~mtgp_kinetics.comparison.NegativeTransferWarning`) when sharing predicts some task
        worse by more than the noise of the comparison (leave-one-condition-out NLPD; for
        ``method="nuts"`` that of the mixture over the draws).
    num_warmup, num_samples, num_chains : int, optional
        NUTS only: warm-up steps and kept draws per chain, and chains (defaults of
        :class:`~mtgp_kinetics.bayes.NutsSettings`).
    progress : bool
        NUTS only: show a progress bar per chain.

    Returns
    -------
    KineticsModel
        The fitted model (``model.fit_result_`` says what the fit did).
    """
    require_dataset(data, "fit")
    nuts_options = sampler_options(
        method, {"num_warmup": num_warmup, "num_samples": num_samples, "num_chains": num_chains}
    )
    if not isinstance(restarts, int) or restarts < 1:
        raise InputDataError(f"restarts must be an integer >= 1, got {restarts!r}")
    if mean not in MEAN_NAMES:
        raise InputDataError(f"mean must be one of {list(MEAN_NAMES)}, got {mean!r}")
    warn_few_observations(data, stacklevel=3)
    if method == "nuts":
        from mtgp_kinetics.bayes import NutsSettings, fit_nuts

        with relayed_warnings():
            bayesian = fit_nuts(
                data,
                kernel,
                mean=mean,
                restarts=restarts,
                max_iter=max_iter,
                seed=seed,
                settings=NutsSettings(**nuts_options),
                progress=progress,
            )
        warn_outliers(bayesian, stacklevel=3)
        if check_transfer and bayesian.num_tasks > 1 and bayesian.kernel.shares_tasks:
            # Averaging over the hyperparameters does not make a wrong shared structure right: a
            # shared lengthscale set by a task that ignores a condition left another task's
            # dependence on it as noise (NLPD +4 nats, coverage 0.29, session 16).
            _warn_if_sharing_hurts(bayesian, data, mean, restarts, max_iter, seed)
        return bayesian
    if kernel is None:
        with relayed_warnings():  # each candidate fit's warnings once, at the caller's line
            model = fit_default(data, restarts=restarts, max_iter=max_iter, seed=seed, mean=mean)
        warn_outliers(model, stacklevel=3)
        return model
    spec = kernel_spec(kernel)
    model = KineticsModel.from_dataset(data, spec, mean)
    with relayed_warnings():
        fit_model(model, restarts=restarts, max_iter=max_iter, seed=seed)
    warn_outliers(model, stacklevel=3)
    if check_transfer and model.num_tasks > 1 and spec.shares_tasks:
        _warn_if_sharing_hurts(model, data, mean, restarts, max_iter, seed)
    return model


def _warn_if_sharing_hurts(
    model: KineticsModel | BayesianKineticsModel,
    data: Dataset,
    mean: str,
    restarts: int,
    max_iter: int,
    seed: int,
) -> None:
    """Fit independent GPs (MAP) and warn about every task the shared ``model`` predicts worse."""
    with warnings.catch_warnings():
        # Both were said once, when ``model`` was fitted.
        warnings.simplefilter("ignore", FewObservationsWarning)
        warnings.simplefilter("ignore", OutlierWarning)
        reference = fit(data, "independent", mean=mean, restarts=restarts, max_iter=max_iter, seed=seed)
    warn_negative_transfer(transfer_report(model, reference), model.kernel.name, stacklevel=4)


def sampler_options(method: str, options: dict[str, Any], where: str = "") -> dict[str, Any]:
    """The NUTS settings given in ``options`` (``None`` values dropped), checked against ``method``.

    Raises
    ------
    InputDataError
        If ``method`` is not ``"map"`` or ``"nuts"``, or sampler settings come with ``"map"``;
        ``where`` (e.g. ``"fit_options"``) starts the message.
    """
    prefix = f"{where}: " if where else ""
    if method not in ("map", "nuts"):
        raise InputDataError(f"{prefix}method must be 'map' or 'nuts', got {method!r}")
    given = {k: v for k, v in options.items() if v is not None}
    if method == "map" and given:
        raise InputDataError(f"{prefix}{sorted(given)} apply to method='nuts' only")
    return given


def warn_outliers(model: KineticsModel, stacklevel: int = 2) -> None:
    """Warn (:class:`~mtgp_kinetics.errors.OutlierWarning`) about observations the model cannot explain.

    Uses :meth:`KineticsModel.outliers` (leave-one-out ``|z| > 4``; where several are flagged,
    with refits that leave out the worst ones first, ``refit``); skipped above
    :data:`OUTLIER_CHECK_MAX_OBSERVATIONS` observations, where the inverse of the training
    covariance it needs costs more than the check is worth (call ``model.outliers()`` there).
    """
    if model.train_inputs.shape[0] > OUTLIER_CHECK_MAX_OBSERVATIONS:
        return
    flagged = model.outliers()
    if len(flagged) > 1:
        # One gross error pulls its neighbours' leave-one-out predictions, and clean points nearby
        # can cross the threshold too (a value 30x off flagged two clean ones at z = -5.4 and -4.6,
        # session 16). Refits that leave out the worst first score the others without it.
        flagged = model.outliers(refit=min(len(flagged), OUTLIERS_LISTED))
    if flagged.empty:
        return
    shown = [
        (f"row {r['row']!r} " if "row" in r else "") + f"({r['task']}, z = {r['z']:+.1f})"
        for r in flagged.head(OUTLIERS_LISTED).to_dict("records")
    ]
    more = len(flagged) - len(shown)
    listed = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    warnings.warn(
        f"{len(flagged)} observation(s) lie more than {OUTLIER_Z:g} leave-one-out standard deviations "
        f"from what the model predicts from the rest: {listed}. They were kept. Check them for a mistyped or "
        "failed measurement, or a feature the model cannot follow; model.outliers() lists them.",
        OutlierWarning,
        stacklevel=stacklevel + 1,
    )


def warn_few_observations(data: Dataset, stacklevel: int = 2) -> None:
    """Warn (:class:`~mtgp_kinetics.errors.FewObservationsWarning`) about tasks with too few observations.

    With fewer than :data:`MIN_OBSERVATIONS_FOR_INTERVALS` observations a task's variance and
    lengthscales are set by the priors, and the MAP fit, which puts the variance where the one or
    two values are explained best, gives intervals far too narrow. Measured (session 10, a
    categorical-plus-temperature problem, the task following the same function as a densely
    measured one, 300 held-out conditions, 5 seeds): the default model's 95 % intervals covered
    21-32 % of held-out points with one observation of the task, 41-74 % with two and 79-100 % with
    three; ICM's 20-43 % with one and 12-100 % with two. A later sweep (session 16, a one-condition
    Arrhenius problem) measured 76-80 % with three, so three warns too.
    """
    message = few_observations_message(data.counts())
    if message is not None:
        warnings.warn(message, FewObservationsWarning, stacklevel=stacklevel + 1)


def few_observations_message(counts: Mapping[str, int]) -> str | None:
    """What :func:`warn_few_observations` says about ``counts`` (task -> observations), or None.

    Also the caution ``mtgp-kinetics status`` and ``report`` print for a campaign's tasks.
    """
    few = {name: int(c) for name, c in counts.items() if c < MIN_OBSERVATIONS_FOR_INTERVALS}
    if not few:
        return None
    listed = ", ".join(f"{name!r} ({count})" for name, count in few.items())
    return (
        f"task(s) {listed} have fewer than {MIN_OBSERVATIONS_FOR_INTERVALS} observations: their "
        "variance is set by the prior, not the data, and their predictive intervals are far too "
        "narrow (95 % intervals covered 21-80 % of held-out points in tests with 1-3 "
        "observations). Measure these tasks more before trusting their intervals."
    )
