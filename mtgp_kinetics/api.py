"""``mtgp_kinetics.fit``: from a dataset to a fitted multi-task model in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mtgp_kinetics.comparison import transfer_report, warn_negative_transfer
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.fitting import fit_map
from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.models.structure import KernelSpec, kernel_spec

if TYPE_CHECKING:
    from mtgp_kinetics.dataset import Dataset

DEFAULT_KERNEL = "lmc"


def fit(
    data: Dataset,
    kernel: str | KernelSpec | None = None,
    *,
    method: str = "map",
    restarts: int = 4,
    max_iter: int = 300,
    seed: int = 0,
    check_transfer: bool = True,
) -> KineticsModel:
    """Fit a multi-task GP to a dataset.

    Parameters
    ----------
    data : Dataset
        Conditions and (possibly heterotopic) observations of the tasks.
    kernel : {"icm", "lmc", "independent"} or KernelSpec, optional
        Coregionalization structure; ``None`` picks the default (``"lmc"``: one latent process per
        task, each with its own lengthscales and a rank-1 + diagonal task covariance).
    method : {"map"}
        Hyperparameter inference. ``"map"``: maximum a posteriori with restarts.
    restarts : int
        MAP starts (the default initialization plus ``restarts - 1`` random ones).
    max_iter : int
        Optimizer iterations per start.
    seed : int
        Seed of the random starts.
    check_transfer : bool
        For a kernel that shares across tasks, also fit independent GPs and warn
        (:class:`~mtgp_kinetics.comparison.NegativeTransferWarning`) when sharing predicts some task
        worse by more than the noise of the comparison (leave-one-condition-out NLPD).

    Returns
    -------
    KineticsModel
        The fitted model (``model.fit_result_`` says what the fit did).
    """
    spec = kernel_spec(DEFAULT_KERNEL if kernel is None else kernel)
    if method != "map":
        raise InputDataError(f"method must be 'map', got {method!r}")
    if not isinstance(restarts, int) or restarts < 1:
        raise InputDataError(f"restarts must be an integer >= 1, got {restarts!r}")
    model = KineticsModel.from_dataset(data, spec)
    model.fit_result_ = fit_map(model.gp, restarts=restarts, max_iter=max_iter, seed=seed)
    if check_transfer and model.num_tasks > 1 and spec.shares_tasks:
        reference = fit(data, "independent", restarts=restarts, max_iter=max_iter, seed=seed)
        warn_negative_transfer(transfer_report(model, reference), spec.name, stacklevel=3)
    return model
