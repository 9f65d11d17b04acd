"""NUTS over a GP's hyperparameters with pyro, several seeded chains started near the MAP fit.

Each chain runs pyro's :class:`~pyro.infer.mcmc.NUTS` kernel on the potential of
:mod:`mtgp_kinetics.bayes.coordinates` (float64, step size and a dense mass matrix adapted during
warm-up), driven step by step here so that every draw's sampler statistics are kept: whether the
trajectory diverged, its tree depth and number of leapfrog steps, and the Hamiltonian at its start
(``energy``, for the BFMI). This reads a few of pyro 1.9's kernel internals (``_divergences``,
``_fetch_from_cache``, ``_sample_r``), since pyro's ``MCMC`` driver keeps none of these per draw.
Chains run in forked worker processes or one after the other (``NutsSettings.workers``), each
under its own seed (``seed + chain``) without touching the global random state, so the draws do not
depend on how they were scheduled.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from pyro.infer.mcmc import NUTS
from tqdm.auto import tqdm

from mtgp_kinetics.bayes.coordinates import Coordinates
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.fitting import single_threaded

#: Sampler statistics kept per draw (``chains x draws`` arrays).
STAT_NAMES = ("diverging", "tree_depth", "n_steps", "energy", "lp", "step_size")


@dataclass(frozen=True)
class NutsSettings:
    """How NUTS runs.

    Parameters
    ----------
    num_warmup : int
        Warm-up (adaptation) steps per chain, discarded.
    num_samples : int
        Kept steps per chain (before thinning).
    num_chains : int
        Independent chains (>= 1; R-hat needs >= 2).
    thin : int
        Keep every ``thin``-th draw.
    target_accept_prob : float
        Step-size adaptation target.
    max_tree_depth : int
        At most ``2**max_tree_depth - 1`` leapfrog steps per draw.
    full_mass : bool
        Adapt a dense mass matrix (the hyperparameters are correlated) rather than a diagonal one.
    init_scale : float
        Std of the Gaussian perturbation of the MAP coordinates each chain starts from
        (over-dispersed starts make R-hat meaningful).
    workers : int or None
        Processes the chains run in: 1 runs them one after another in this process; more forks
        that many worker processes (one torch thread each; POSIX ``fork`` only). ``None``: one
        per chain up to the number of CPU cores on Linux, 1 elsewhere. The draws do not depend on
        it: chain ``c`` always uses seed ``seed + c``.
    """

    num_warmup: int = 300
    num_samples: int = 500
    num_chains: int = 4
    thin: int = 1
    target_accept_prob: float = 0.8
    max_tree_depth: int = 8
    full_mass: bool = True
    init_scale: float = 0.1
    workers: int | None = None

    def validate(self) -> NutsSettings:
        """Return self, or raise :class:`InputDataError` naming the bad setting."""
        for name in ("num_warmup", "num_samples", "num_chains", "thin", "max_tree_depth", "workers"):
            value = getattr(self, name)
            if name == "workers" and value is None:
                continue
            minimum = 0 if name == "num_warmup" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InputDataError(f"{name} must be an integer >= {minimum}, got {value!r}")
        kept = -(-self.num_samples // self.thin)  # draws kept per chain
        if kept < MIN_KEPT_DRAWS:
            raise InputDataError(
                f"thin={self.thin} keeps {kept} of num_samples={self.num_samples} draws per chain; "
                f"keep at least {MIN_KEPT_DRAWS} (R-hat and ESS need them): lower thin or raise num_samples"
            )
        if not 0.0 < self.target_accept_prob < 1.0:
            raise InputDataError(f"target_accept_prob must be in (0, 1), got {self.target_accept_prob!r}")
        if not (math.isfinite(self.init_scale) and self.init_scale >= 0):
            raise InputDataError(f"init_scale must be finite and >= 0, got {self.init_scale!r}")
        return self


#: Fewest draws per chain a thinned run may keep (ArviZ's R-hat and ESS need a few per chain).
MIN_KEPT_DRAWS = 4


@dataclass
class NutsDraws:
    """What NUTS produced.

    Attributes
    ----------
    z : ndarray
        ``chains x draws x p`` unconstrained coordinates (:class:`Coordinates`).
    stats : dict of str to ndarray
        :data:`STAT_NAMES` -> ``chains x draws`` sampler statistics.
    seconds : float
        Wall time of all chains.
    settings : NutsSettings
        The settings used.
    seed : int
        Seed of chain 0 (chain ``c`` used ``seed + c``).
    messages : list of str
        Per-chain summary (step size, acceptance, divergences).
    """

    z: np.ndarray
    stats: dict[str, np.ndarray]
    seconds: float
    settings: NutsSettings
    seed: int
    messages: list[str] = field(default_factory=list)


class _RecordingNUTS(NUTS):
    """pyro's NUTS, remembering the kinetic energy of each step's fresh momentum."""

    def _sample_r(self, name: str) -> tuple[dict, dict]:
        r, r_unscaled = super()._sample_r(name)
        self.last_kinetic_ = float(self._kinetic_energy(r_unscaled))
        return r, r_unscaled


def run_nuts(coords: Coordinates, settings: NutsSettings, seed: int = 0, progress: bool = True) -> NutsDraws:
    """Run ``settings.num_chains`` NUTS chains on the potential of ``coords``.

    Parameters
    ----------
    coords : Coordinates
        The GP's coordinates, its parameters at the MAP fit (the chains start around them).
    settings : NutsSettings
        Warm-up, draws, chains and adaptation.
    seed : int
        Chain ``c`` is seeded with ``seed + c``.
    progress : bool
        Show a tqdm progress bar per chain.

    Returns
    -------
    NutsDraws
        Draws and statistics; the GP's parameters are restored to the MAP values afterwards.
    """
    settings.validate()
    start_time = time.perf_counter()
    z_map = coords.current()
    chains, stats, messages = [], {name: [] for name in STAT_NAMES}, []
    try:
        if resolved_workers(settings) > 1:
            results = _run_forked(coords, z_map, settings, seed, progress)
        else:
            with single_threaded():
                results = [
                    _run_chain(coords, z_map, settings, seed + chain, chain, progress)
                    for chain in range(settings.num_chains)
                ]
        for z, chain_stats, message in results:
            chains.append(z)
            for name in STAT_NAMES:
                stats[name].append(chain_stats[name])
            messages.append(message)
    finally:
        coords.assign(z_map)
    return NutsDraws(
        z=np.stack(chains),
        stats={name: np.stack(values) for name, values in stats.items()},
        seconds=time.perf_counter() - start_time,
        settings=settings,
        seed=seed,
        messages=messages,
    )


def resolved_workers(settings: NutsSettings) -> int:
    """Worker processes for ``settings`` (``workers=None``: one per chain up to the cores, on Linux)."""
    if settings.workers is not None:
        return min(settings.workers, settings.num_chains)
    if sys.platform.startswith("linux"):
        return max(1, min(settings.num_chains, os.cpu_count() or 1))
    return 1


#: What forked workers run (set just before forking: the GP and its closures are not picklable).
_FORK_JOB: tuple | None = None


def _forked_chain(chain: int) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """One chain in a forked worker (reads :data:`_FORK_JOB`)."""
    assert _FORK_JOB is not None
    coords, z_map, settings, seed, progress = _FORK_JOB
    torch.set_num_threads(1)
    return _run_chain(coords, z_map, settings, seed + chain, chain, progress)


def _run_forked(
    coords: Coordinates, z_map: torch.Tensor, settings: NutsSettings, seed: int, progress: bool
) -> list[tuple[np.ndarray, dict[str, np.ndarray], str]]:
    """The chains in ``settings.workers`` forked processes, results in chain order."""
    global _FORK_JOB
    if "fork" not in multiprocessing.get_all_start_methods():
        raise InputDataError("workers > 1 needs the POSIX 'fork' start method; use workers=1 here")
    _FORK_JOB = (coords, z_map, settings, seed, progress)
    try:
        context = multiprocessing.get_context("fork")
        with single_threaded(), context.Pool(resolved_workers(settings)) as pool:
            return pool.map(_forked_chain, range(settings.num_chains), chunksize=1)
    finally:
        _FORK_JOB = None


def _run_chain(
    coords: Coordinates, z_map: torch.Tensor, settings: NutsSettings, seed: int, chain: int, progress: bool
) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """One chain: warm-up, then ``num_samples`` steps of which every ``thin``-th is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        z0 = z_map + settings.init_scale * torch.randn(z_map.shape, dtype=torch.float64)
        if not math.isfinite(coords.value_and_grad(z0)[0]):
            z0 = z_map.clone()  # the perturbed start is numerically impossible: start at the MAP
        kernel = _RecordingNUTS(
            potential_fn=lambda params: coords.potential(params["z"]),
            target_accept_prob=settings.target_accept_prob,
            max_tree_depth=settings.max_tree_depth,
            adapt_step_size=True,
            adapt_mass_matrix=True,
            full_mass=settings.full_mass,
        )
        kernel.initial_params = {"z": z0}
        kernel.setup(settings.num_warmup)
        params = kernel.initial_params
        total = settings.num_warmup + settings.num_samples
        kept, rows = [], {name: [] for name in STAT_NAMES}
        bar = tqdm(
            total=total,
            desc=f"NUTS chain {chain + 1}/{settings.num_chains}",
            disable=not progress,
            position=chain if resolved_workers(settings) > 1 else None,
        )
        try:
            for step in range(total):
                _, potential_before, _ = kernel._fetch_from_cache()
                divergences_before = len(kernel._divergences)
                evaluations_before = coords.evaluations
                params = kernel.sample(params)
                if step < settings.num_warmup or (step - settings.num_warmup) % settings.thin:
                    bar.update()
                    continue
                n_steps = coords.evaluations - evaluations_before
                _, potential_after, _ = kernel._fetch_from_cache()
                kept.append(params["z"].detach().clone())
                rows["diverging"].append(len(kernel._divergences) > divergences_before)
                rows["n_steps"].append(n_steps)
                # A tree of depth d holds 2**d - 1 leapfrog steps (fewer if it stopped early).
                rows["tree_depth"].append(math.ceil(math.log2(n_steps + 1)))
                rows["energy"].append(float(potential_before) + kernel.last_kinetic_)
                rows["lp"].append(-float(potential_after))
                rows["step_size"].append(float(kernel.step_size))
                bar.update()
        finally:
            bar.close()
            kernel.cleanup()
    draws = torch.stack(kept).numpy()
    chain_stats = {name: np.asarray(values) for name, values in rows.items()}
    message = (
        f"chain {chain}: step size {chain_stats['step_size'][-1]:.3g}, "
        f"mean tree depth {chain_stats['tree_depth'].mean():.2f}, "
        f"{int(chain_stats['diverging'].sum())} divergence(s)"
    )
    return draws, chain_stats, message
