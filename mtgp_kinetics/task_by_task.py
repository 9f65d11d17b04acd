"""Fit independent GPs one task at a time: the same optimum as the joint fit, at a fraction of the cost.

Under a structure with no shared latent process (``KernelSpec.shares_tasks`` is false) every
hyperparameter belongs to one task (its private input kernel and variance, its noise level, its
mean), the training covariance is block diagonal by task and the MAP objective is a sum of one term
per task:

``log p(theta | y) = sum_t [log N(y_t | m_t, K_tt + D_t) + log p(theta_t)] + const``.

So the joint maximum is the per-task maxima side by side. Fitting task ``t`` on its own ``n_t``
rows costs ``O(n_t^3)`` per objective evaluation instead of ``O(n^3)`` for the joint block-diagonal
matrix (for two tasks of equal size, a quarter of the arithmetic, and each optimizer runs only as
long as its own task needs). The per-task fits are copied into the joint model, whose objective is
then evaluated once to record the fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.fitting import DEFAULT_FTOL, FitResult, fit_map, neg_log_posterior

if TYPE_CHECKING:
    from mtgp_kinetics.model import KineticsModel

#: Observations from which :func:`fit_model` fits a structure without shared processes task by task.
TASK_BY_TASK_FROM = 250

#: Parameter names that are vectors with one entry (or row) per task: the noise levels and the mean.
PER_TASK_PREFIXES = ("likelihood.noise_covar.raw_noise", "mean_module.")


def task_model(model: KineticsModel, k: int) -> KineticsModel:
    """An unfitted copy of ``model`` (same structure and start) that holds only task ``k``'s rows.

    The copy keeps every task (so parameter shapes and the per-task standardization match); the
    other tasks simply have no observations in it.
    """
    from mtgp_kinetics.model import KineticsModel

    rows = model.train_inputs[:, -1].round().long() == k
    single = KineticsModel(
        model.space,
        model.tasks,
        model.kernel,
        model.train_inputs[rows],
        model.train_targets[rows],
        model.known_variance[rows],
        data=None,
        mean=model.mean,
    )
    copy_hyperparameters(single, model)
    copy_held(single, model)
    return single


def copy_held(target: KineticsModel, source: KineticsModel) -> None:
    """Hold in ``target`` the parameters held in ``source`` (``requires_grad`` false), free the rest.

    A held parameter, such as a rotation borrowed from another task, keeps its value through a fit.
    """
    held = {name for name, param in source.gp.named_parameters() if not param.requires_grad}
    for name, param in target.gp.named_parameters():
        param.requires_grad_(name not in held)


def copy_hyperparameters(target: KineticsModel, source: KineticsModel) -> None:
    """Start ``target`` at ``source``'s hyperparameters (same structure, other data).

    Every state entry whose shape matches is copied; the data buffers (training inputs, known
    noise), whose shapes follow the data, stay ``target``'s own.
    """
    state = target.gp.state_dict()
    for key, value in source.gp.state_dict().items():
        if key in state and state[key].shape == value.shape:
            state[key] = value.clone()
    target.gp.load_state_dict(state)


def copy_task_parameters(
    target: KineticsModel, sources: dict[int, KineticsModel], first_private: int = 0
) -> None:
    """Copy task ``k``'s private process, noise level and mean from ``sources[k]`` into ``target``.

    Each source must have a structure without shared processes whose latent process ``k`` is
    private to task ``k`` (:meth:`KernelSpec.independent` and the default model's independent
    candidates). In ``target`` task ``k``'s private process is latent process ``first_private + k``:
    0 for the same kind of structure, the number of shared processes for a shared+private one.
    """
    state = target.gp.state_dict()
    for k, source in sources.items():
        for key, value in source.gp.state_dict().items():
            per_task = value.dim() >= 1 and value.shape[0] == target.num_tasks
            for part in ("input_kernels", "task_covariances"):
                prefix = f"covar_module.{part}.{k}."
                if key.startswith(prefix):
                    state[f"covar_module.{part}.{first_private + k}.{key[len(prefix) :]}"] = value.clone()
            if key.startswith(PER_TASK_PREFIXES) and per_task:
                state[key] = state[key].clone()
                state[key][k] = value[k]
    target.gp.load_state_dict(state)


def combine_task_fits(model: KineticsModel, sources: dict[int, KineticsModel]) -> FitResult:
    """Put fitted per-task parameters into ``model`` and record the joint fit (no refitting).

    ``sources[k]`` holds task ``k``'s fitted parameters (a single-task model of
    :func:`task_model`, or a joint fit of the same data with another structure). The joint objective
    separates by task, so the combination is at the joint optimum; it is evaluated once.
    """
    copy_task_parameters(model, sources)
    # One record per distinct fit: several tasks may take their parameters from the same model.
    distinct = {id(source): source for source in sources.values() if source.fit_result_ is not None}
    results = [source.fit_result_ for source in distinct.values()]
    jitter = max((r.jitter for r in results), default=0.0)
    model.gp.likelihood.noise_covar.jitter.fill_(jitter)
    model.gp.eval()
    with torch.no_grad():
        value = float(neg_log_posterior(model.gp))
    model.fit_result_ = FitResult(
        neg_log_posterior=value,
        restart_objectives=[value],
        jitter=jitter,
        seconds=sum(r.seconds for r in results),
        messages=[m for r in results for m in r.messages],
        converged=all(r.converged for r in results),
    )
    return model.fit_result_


def fit_task_by_task(
    model: KineticsModel, *, restarts: int = 4, max_iter: int = 300, seed: int = 0, ftol: float = DEFAULT_FTOL
) -> FitResult:
    """MAP-fit a model without shared processes one task at a time, in place.

    Parameters
    ----------
    model : KineticsModel
        Unfitted, with a structure whose latent process ``k`` is private to task ``k``.
    restarts, max_iter, seed : int
        :func:`~mtgp_kinetics.fitting.fit_map` settings of every task's fit.
    ftol : float
        Its stopping tolerance.

    Returns
    -------
    FitResult
        The joint objective at the combined optimum (also ``model.fit_result_``); ``messages`` holds
        every task's record and ``seconds`` the sum of the task fits.

    Raises
    ------
    InputDataError
        If the structure shares a latent process between tasks.
    """
    if model.kernel.shares_tasks:
        raise InputDataError(
            f"fit_task_by_task: kernel {model.kernel.name!r} shares latent processes between tasks; "
            "only structures without sharing separate by task"
        )
    task_index = model.train_inputs[:, -1].round().long()
    singles: dict[int, KineticsModel] = {}
    for k in range(model.num_tasks):
        if not bool((task_index == k).any()):
            continue  # no data: its parameters stay at their starting values
        single = task_model(model, k)
        result = fit_map(single.gp, restarts=restarts, max_iter=max_iter, seed=seed, ftol=ftol)
        result.messages = [f"task {model.task_names[k]!r}: {m}" for m in result.messages]
        single.fit_result_ = result
        singles[k] = single
    return combine_task_fits(model, singles)


def fit_model(
    model: KineticsModel, *, restarts: int = 4, max_iter: int = 300, seed: int = 0, ftol: float = DEFAULT_FTOL
) -> FitResult:
    """MAP-fit a model in place: task by task where that is cheaper, jointly otherwise.

    A structure without shared processes, with at least :data:`TASK_BY_TASK_FROM` observations,
    is fitted by :func:`fit_task_by_task`; everything else by one joint
    :func:`~mtgp_kinetics.fitting.fit_map`. Both reach the same optimum for a separable structure
    (objectives equal to about 1e-7 in our tests). Below the threshold an objective evaluation costs
    little more than its fixed overhead, and one joint optimizer run needs fewer evaluations than one
    per task; above it the ``O(n_t^3)`` per-task factorizations win (see ``docs/benchmarks.md``).

    Returns
    -------
    FitResult
        Also stored as ``model.fit_result_``.
    """
    if not model.kernel.shares_tasks and model.train_targets.shape[-1] >= TASK_BY_TASK_FROM:
        return fit_task_by_task(model, restarts=restarts, max_iter=max_iter, seed=seed, ftol=ftol)
    model.fit_result_ = fit_map(model.gp, restarts=restarts, max_iter=max_iter, seed=seed, ftol=ftol)
    return model.fit_result_
