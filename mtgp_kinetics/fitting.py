"""Maximum a posteriori fitting of a :class:`~mtgp_kinetics.models.gp.CoregionalGP`.

Fitting is a procedure, not part of the model (as botorch's ``fit_gpytorch_mll``): L-BFGS-B on the
log marginal likelihood plus log priors, from the deterministic default start and from ``restarts - 1``
random starts, keeping the best. When a Cholesky factorization fails (the joint covariance is not
numerically positive definite) the fit is retried with a larger diagonal jitter; the jitter that was
needed stays in the model, so its predictions use the same matrix, and a :class:`NumericsWarning`
says what was done. A fit that fails at every jitter raises :class:`NumericsError`; a NaN objective
is never returned as a result.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from gpytorch.kernels import MaternKernel
from linear_operator.utils.errors import NanError, NotPSDError
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from mtgp_kinetics.errors import ConvergenceWarning, NumericsError, NumericsWarning
from mtgp_kinetics.models.dense_covariance import TrainingCovariance, training_covariance
from mtgp_kinetics.models.gp import CoregionalGP
from mtgp_kinetics.models.rotated_kernel import ROTATION_PRIOR_STD, RotatedMaternKernel
from mtgp_kinetics.models.task_covariance import LowRankTaskCovariance

DEFAULT_JITTERS: tuple[float, ...] = (0.0, 1e-8, 1e-6, 1e-4)

# L-BFGS-B stopping: the objective is per observation, so a relative change of 1e-7 is far below
# anything a prediction can see. Measured on H2/O2 and the analytic problem (n = 60, 120): 15-30 %
# fewer evaluations than scipy's default (ftol 2.2e-9), same optimum to 1e-5 per observation.
#: The default relative tolerance ``ftol`` of :func:`fit_map` (see above).
DEFAULT_FTOL = 1e-7
_GTOL = 1e-5

#: Fits with at least this many observations keep torch's thread setting. Measured on 2 cores with
#: the analytic problem: one ICM start at 1600 observations took 20 s on one thread, and botorch's
#: MultiTaskGP 28 s on one thread against 15 s on two.
MULTITHREAD_FROM = 500


@dataclass
class FitResult:
    """What a MAP fit did.

    Attributes
    ----------
    neg_log_posterior : float
        Best objective: ``-(log p(y | theta) + log p(theta)) / n``.
    restart_objectives : list of float
        Final objective of each restart (``inf`` where a restart failed at every jitter).
    jitter : float
        Diagonal jitter of the kept solution (standardized units).
    seconds : float
        Wall time of the fit.
    messages : list of str
        Optimizer messages and repairs, for the record.
    converged : bool
        Whether the kept start converged (rather than stopping at ``max_iter``).
    """

    neg_log_posterior: float
    restart_objectives: list[float]
    jitter: float
    seconds: float
    messages: list[str] = field(default_factory=list)
    converged: bool = True


def neg_log_posterior(gp: CoregionalGP, covariance: TrainingCovariance | None = None) -> torch.Tensor:
    """MAP objective ``-(log N(y; m, K + D) + sum log p(theta)) / n`` (scalar, differentiable).

    The same quantity as gpytorch's ``ExactMarginalLogLikelihood`` (plus priors, divided by ``n``),
    computed with one dense Cholesky factor, which is several times faster for the few hundred
    observations of a kinetics data set (Rasmussen & Williams 2006, Alg. 2.1, lines 2-3 and 8).

    Parameters
    ----------
    gp : CoregionalGP
        The model, with its training data.
    covariance : TrainingCovariance, optional
        A precomputed evaluator of ``K(X, X)`` for ``gp``'s kernel and training inputs (what a fit
        passes); ``None`` builds one (the kernel module's own ``forward``, several times slower,
        only for kernels it cannot evaluate).

    Raises
    ------
    torch.linalg.LinAlgError
        If ``K + D`` is not numerically positive definite.
    """
    X = gp.train_inputs[0]
    y = gp.train_targets
    noise = gp.likelihood.noise_covar(X).diagonal()
    residual = y - gp.mean_module(X)
    if covariance is None:
        covariance = training_covariance(gp.covar_module, X)
    if covariance is None:
        K = gp.covar_module.forward(X, X)
    else:
        # K in the evaluator's task order; the density is the same in any consistent order.
        K = covariance.sorted_matrix()
        if covariance.order is not None:
            noise, residual = noise[..., covariance.order], residual[..., covariance.order]
    n = y.shape[-1]
    log_lik = _GaussianLogDensity.apply(K + torch.diag_embed(noise), residual) - 0.5 * n * math.log(
        2 * math.pi
    )
    log_prior = sum(
        prior.log_prob(closure(module)).sum() for _, module, prior, closure, _ in gp.named_priors()
    )
    return -(log_lik + log_prior) / n


class _GaussianLogDensity(torch.autograd.Function):
    """``log N(r; 0, K)`` without the ``2 pi`` term, with the closed-form gradient in ``K``.

    Forward: ``L = chol(K)``, ``alpha = K^{-1} r``, value ``-r^T alpha / 2 - sum log diag L``.
    Backward: ``d/dK = (alpha alpha^T - K^{-1}) / 2`` and ``d/dr = -alpha`` (Rasmussen & Williams
    2006, eq. 5.9), ``K^{-1}`` from the factor in one LAPACK call. The same numbers as autograd
    through the Cholesky factorization, in half the time (0.84 to 0.40 ms at ``n = 150``, one
    thread), the largest single term of a MAP step's gradient. ``K`` is ``n x n``, ``r`` is ``n``.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, K: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        L = torch.linalg.cholesky(K)
        alpha = torch.cholesky_solve(r.unsqueeze(-1), L).squeeze(-1)
        ctx.save_for_backward(L, alpha)
        return -0.5 * (r * alpha).sum() - torch.log(torch.diagonal(L)).sum()

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        L, alpha = ctx.saved_tensors
        grad_K = 0.5 * (alpha.unsqueeze(-1) * alpha.unsqueeze(-2) - torch.cholesky_inverse(L)) * grad
        return grad_K, -alpha * grad


def _randomize(gp: CoregionalGP, generator: torch.Generator) -> None:
    """Move the hyperparameters to a random but plausible start (standardized, normalized scale).

    Held parameters (``requires_grad`` false: a borrowed rotation, a private kernel held while a
    shared process is fitted) keep their values.
    """
    for module in gp.modules():
        if isinstance(module, MaternKernel) and module.raw_lengthscale.requires_grad:
            # Log-uniform on [0.1, 3]: from rough to near-linear over the unit cube.
            u = torch.rand(module.lengthscale.shape, generator=generator, dtype=torch.float64)
            module.lengthscale = torch.exp(math.log(0.1) + u * math.log(30.0))
            if isinstance(module, RotatedMaternKernel) and module.raw_rotation.requires_grad:
                # Axes turned by a draw from the generator's prior.
                turn = torch.randn(module.raw_rotation.shape, generator=generator, dtype=torch.float64)
                module.raw_rotation.data = turn * ROTATION_PRIOR_STD
        elif isinstance(module, LowRankTaskCovariance):
            W = torch.randn(module.W.shape, generator=generator, dtype=torch.float64)
            module.W.data = W * math.sqrt(0.5 / module.rank)
    noise = gp.likelihood.noise_covar
    u = torch.rand(noise.raw_noise.shape, generator=generator, dtype=torch.float64)
    noise.noise = torch.exp(math.log(1e-4) + u * math.log(1e3))


def _optimizer_coordinates(gp: CoregionalGP) -> tuple[list[torch.nn.Parameter], np.ndarray, np.ndarray]:
    """Trainable parameters, and per element the lower bound and whether to optimize it in log space.

    Constraints built with ``transform=None`` (lengthscales, noise) are bounds for the optimizer, as in
    botorch. A parameter with only a lower bound ``b`` is optimized as ``log(theta - b)``: the MAP
    surface of a lengthscale or noise level is far better scaled in log space, and linear coordinates
    left L-BFGS-B crawling to the iteration limit when a lengthscale drifted long (seen on H2/O2).
    """
    params, lower, use_log = [], [], []
    for _, param, constraint in gp.named_parameters_and_constraints():
        if not param.requires_grad:
            continue
        params.append(param)
        low, high = -math.inf, math.inf
        if constraint is not None and not constraint.enforced:
            low, high = float(constraint.lower_bound.min()), float(constraint.upper_bound.max())
        if math.isfinite(high):
            raise NotImplementedError("upper-bounded hyperparameters are not supported by fit_map")
        lower.extend([low] * param.numel())
        use_log.extend([math.isfinite(low)] * param.numel())
    return params, np.array(lower), np.array(use_log)


def _optimize(gp: CoregionalGP, max_iter: int, ftol: float = DEFAULT_FTOL) -> tuple[str, bool]:
    """L-BFGS-B over the hyperparameters (log space above lower bounds), gradients by autograd.

    Returns the optimizer's message and whether it converged (rather than hitting ``max_iter``).
    """
    params, lower, use_log = _optimizer_coordinates(gp)
    covariance = TrainingCovariance(gp.covar_module, gp.train_inputs[0])
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def to_theta(vector: np.ndarray) -> np.ndarray:
        return np.where(use_log, lower + np.exp(np.where(use_log, vector, 0.0)), vector)

    def assign(vector: np.ndarray) -> None:
        chunks = torch.split(torch.as_tensor(to_theta(vector), dtype=torch.float64), sizes)
        with torch.no_grad():
            for p, chunk, shape in zip(params, chunks, shapes, strict=True):
                p.copy_(chunk.view(shape))

    def value_and_grad(vector: np.ndarray) -> tuple[float, np.ndarray]:
        assign(vector)
        for p in params:
            p.grad = None
        try:
            loss = neg_log_posterior(gp, covariance)
        except (torch.linalg.LinAlgError, ValueError):
            # A failed Cholesky, or a prior evaluated outside its support: tell L-BFGS-B the step
            # went somewhere numerically impossible; it backtracks.
            return math.inf, np.zeros(sum(sizes))
        loss.backward()
        grad = torch.cat([p.grad.reshape(-1) for p in params]).numpy()
        grad = np.where(use_log, grad * (to_theta(vector) - np.where(use_log, lower, 0.0)), grad)
        return float(loss.detach()), np.nan_to_num(grad)

    theta0 = torch.cat([p.detach().reshape(-1) for p in params]).numpy()
    gap = np.maximum(theta0 - np.where(use_log, lower, 0.0), 1e-12)
    x0 = np.where(use_log, np.log(gap), theta0)
    # exp(+-30) spans any lengthscale or noise level of normalized, standardized data.
    bounds = [(-30.0, 30.0) if log else (None, None) for log in use_log]
    gp.train()
    result = minimize(
        value_and_grad,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "ftol": ftol, "gtol": _GTOL},
    )
    assign(result.x)
    for p in params:
        p.grad = None
    return str(result.message), result.nit < max_iter


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch and the BLAS libraries numpy and scipy load on one thread each, then restore them.

    The matrices of a kinetics data set are small; torch's thread pool then costs more than it
    saves, and between L-BFGS-B steps it contends with scipy's BLAS threads (measured: an objective
    evaluation at n = 55 takes 1.5 ms on one thread and up to 40 ms with two contending pools).
    OpenBLAS's idle workers spin after each call (L-BFGS-B's own small BLAS calls included) and
    take the core torch works on. Measured on 2 cores (session 10, default model, H2/O2 and the
    analytic problem, n = 30 and 120, 5 seeds): 5-15 % faster on an idle machine (H2/O2 n = 120:
    0.91 -> 0.79 s per fit), and 3x faster with another process busy on the second core
    (2.6-3.3 s -> 0.9-1.1 s; ``setulb`` alone 1.8 ms -> 0.01 ms per call), as a campaign with an
    oracle or a test run alongside has it.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)


def threads_for(n_observations: int) -> AbstractContextManager[None]:
    """:func:`single_threaded` for work on fewer than :data:`MULTITHREAD_FROM` observations.

    Small matrices: one thread. From a few hundred observations on, the Cholesky factor dominates
    and torch's thread pool pays for itself.
    """
    return single_threaded() if n_observations < MULTITHREAD_FROM else nullcontext()


def fit_map(
    gp: CoregionalGP,
    *,
    restarts: int = 4,
    max_iter: int = 300,
    seed: int = 0,
    jitters: Sequence[float] = DEFAULT_JITTERS,
    ftol: float = DEFAULT_FTOL,
) -> FitResult:
    """Fit hyperparameters by MAP with restarts and jitter escalation (in place).

    Parameters
    ----------
    gp : CoregionalGP
        The model; its current hyperparameters are the first start.
    restarts : int
        Number of starts (>= 1): the current values plus ``restarts - 1`` random ones.
    max_iter : int
        L-BFGS-B iterations per start.
    seed : int
        Seed of the random starts.
    jitters : sequence of float
        Diagonal jitters tried in turn when a Cholesky factorization fails.
    ftol : float
        L-BFGS-B's relative-reduction stopping tolerance on the per-observation objective.

    Returns
    -------
    FitResult
        The best objective and what was done to reach it.

    Raises
    ------
    NumericsError
        If every start fails at every jitter.
    """
    with threads_for(gp.train_targets.shape[-1]):
        return _fit_map(gp, restarts=restarts, max_iter=max_iter, seed=seed, jitters=jitters, ftol=ftol)


def _fit_map(
    gp: CoregionalGP,
    *,
    restarts: int,
    max_iter: int,
    seed: int,
    jitters: Sequence[float],
    ftol: float = DEFAULT_FTOL,
) -> FitResult:
    start_time = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    initial_state = {k: v.clone() for k, v in gp.state_dict().items()}
    noise_model = gp.likelihood.noise_covar
    best_state: dict[str, torch.Tensor] | None = None
    best_value = math.inf
    best_converged = True
    objectives: list[float] = []
    messages: list[str] = []
    for restart in range(max(1, restarts)):
        gp.load_state_dict(initial_state)
        if restart > 0:
            _randomize(gp, generator)
        start_state = {k: v.clone() for k, v in gp.state_dict().items()}
        value, converged = math.inf, False
        for jitter in jitters:
            gp.load_state_dict(start_state)
            noise_model.jitter.fill_(jitter)
            try:
                message, converged = _optimize(gp, max_iter, ftol)
                with torch.no_grad():
                    value = float(neg_log_posterior(gp))
            except (NotPSDError, NanError, torch.linalg.LinAlgError) as err:
                messages.append(f"start {restart}: jitter {jitter:g} failed ({type(err).__name__})")
                continue
            if math.isfinite(value):
                messages.append(f"start {restart}: {message} (objective {value:.4f}, jitter {jitter:g})")
                break
            messages.append(f"start {restart}: non-finite objective at jitter {jitter:g}")
            value = math.inf
        objectives.append(value)
        if value < best_value:
            best_value, best_converged = value, converged
            best_state = {k: v.clone() for k, v in gp.state_dict().items()}
    if best_state is None:
        raise NumericsError(
            "MAP fit failed at every start and every jitter "
            f"({', '.join(f'{j:g}' for j in jitters)}): the joint covariance is not positive definite. "
            "Check for duplicated conditions with conflicting values or rescale the outputs. "
            + "; ".join(messages[-3:])
        )
    gp.load_state_dict(best_state)
    gp.eval()
    jitter = float(noise_model.jitter)
    if jitter > 0:
        warnings.warn(
            f"Cholesky factorization failed without jitter; the kept fit adds {jitter:g} to the "
            "diagonal of the training covariance (standardized units), and predictions use it too.",
            NumericsWarning,
            stacklevel=2,
        )
    if not best_converged:
        warnings.warn(
            f"the best MAP start stopped at max_iter={max_iter} before converging; its hyperparameters "
            "may be short of the optimum. Pass a larger max_iter to mtgp_kinetics.fit.",
            ConvergenceWarning,
            stacklevel=2,
        )
    failed = sum(1 for v in objectives if not math.isfinite(v))
    if failed:
        warnings.warn(
            f"{failed} of {len(objectives)} MAP starts failed numerically and were discarded.",
            ConvergenceWarning,
            stacklevel=2,
        )
    seconds = time.perf_counter() - start_time
    return FitResult(best_value, objectives, jitter, seconds, messages, best_converged)
