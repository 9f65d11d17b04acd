"""MAP versus NUTS on a problem (default H2/O2): held-out NLPD, 95 % coverage per task, wall time.

For each training size (default 10, 20, 40 conditions, every mechanism task observed at a quarter
of them) and seed, the same kernel is fitted by MAP (``mk.fit``) and by NUTS
(``mk.fit(method="nuts")``), and both predict ``--n-test`` noise-free Sobol conditions (seed 10000):
NLPD of the true value under the latent predictive in the modelled space (log10 s, logit) and the
share of true values inside the 95 % interval: ``model_checking.held_out_scores`` for MAP's
Gaussian, ``BayesianKineticsModel.test_scores`` for NUTS (the density of the mixture over draws).
``map`` is ``predict``'s default (with the Laplace term for the hyperparameters' uncertainty),
``map point`` the same fit's predictive at the MAP point alone (``hyperparameter_uncertainty=False``).
The table gives medians over seeds; the per-seed lines the raw figures, each NUTS fit's NLPD under
a Gaussian with the mixture's moments (what earlier runs reported), worst R-hat and bulk ESS.
These are the figures in ``docs/bayesian.md``.

``--kernel default`` fits the default model (``kernel=None``): MAP by ``mk.fit(data)``, NUTS over
the structure it chooses (``mk.fit(data, method="nuts")``); the per-seed lines then name that
structure (the same for both: NUTS starts from the MAP fit).

``--problem`` takes a built-in problem (``h2o2``, ``analytic``, ``ch3_oh``) or one of your own,
``"my_problems.py:ShockTube"`` (docs/problems.md, "Your own problem").

``--diagnostics`` instead fits 30 observations with the library's default NUTS settings and prints
the worst R-hat, the smallest bulk ESS and the wall time (the convergence figure).

Usage::

    python benchmarks/bayes_vs_map.py                                  # 10/20/40, 5 seeds, defaults
    python benchmarks/bayes_vs_map.py --warmup 100 --samples 100 --chains 2 --max-tree-depth 6  # quicker
    python benchmarks/bayes_vs_map.py --kernel default --sizes 10,20   # the default model's structure
    python benchmarks/bayes_vs_map.py --problem ch3_oh --sizes 10,20   # another problem
    python benchmarks/bayes_vs_map.py --diagnostics                    # n = 30, default settings
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import mtgp_kinetics as mk
from mtgp_kinetics.bayes import NutsSettings, fit_nuts
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.model_checking import held_out_scores
from mtgp_kinetics.problems import Problem, get_problem

SPARSE_FRACTION = 0.25  # share of the rows at which each mechanism task is observed


def _data(problem: Problem, n: int, seed: int) -> mk.Dataset:
    fractions = {t.name: SPARSE_FRACTION for t in problem.tasks if t.kind == "mechanism"}
    frame = problem.sample(n, seed=seed, observed_fraction=fractions or None)
    return mk.Dataset.from_frame(frame, problem.space, problem.tasks)


def _per_task(values: object, fmt: str) -> str:
    """``values`` (one per task) formatted and joined with `` / ``."""
    return " / ".join(format(float(v), fmt) for v in values)


def _structure(model: mk.KineticsModel) -> str:
    """The default model's choice, e.g. ``independent (nu 2.5, 1.5)``."""
    spec = model.kernel
    return f"{spec.name} (nu {', '.join(f'{latent.nu:g}' for latent in spec.latents or ())})"


def compare(
    problem: Problem, sizes: list[int], seeds: int, kernel: str | None, n_test: int, nuts: dict[str, int]
) -> None:
    test = problem.space.sample(n_test, seed=10_000)
    truth = problem.evaluate(test)
    names = [task.name for task in problem.tasks]
    t = len(names)
    label = "default" if kernel is None else kernel
    print(
        f"{problem.name}: kernel {label!r}, NUTS {nuts or 'defaults'}, {n_test} test conditions, "
        f"tasks {' / '.join(names)}",
        flush=True,
    )
    summary = []
    for n in sizes:
        rows = {"map": [], "map point": [], "nuts": []}
        for seed in range(seeds):
            data = _data(problem, n, seed)
            for method in ("map", "nuts"):
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # convergence is reported below, not warned
                    if method == "map":
                        model = mk.fit(data, kernel, seed=seed, check_transfer=False)
                    else:  # what mk.fit(data, kernel, method="nuts") does, with every NUTS setting exposed
                        model = fit_nuts(
                            data, kernel, seed=seed, settings=NutsSettings(**nuts), progress=False
                        )
                seconds = time.perf_counter() - start
                if method == "map":
                    scores = held_out_scores(model.predict(test, level=0.95), truth, problem.tasks, 0.95)
                    # The same fit at its MAP point alone, without the Laplace term.
                    point = model.predict(test, level=0.95, hyperparameter_uncertainty=False)
                    point = held_out_scores(point, truth, problem.tasks, 0.95)
                    point_row = [*point.loc[names, "nlpd"], *point.loc[names, "coverage"], seconds]
                    rows["map point"].append(point_row)
                else:  # the mixture's own density, not a Gaussian with its moments
                    scores = model.test_scores(test, truth, level=0.95)
                row = [*scores.loc[names, "nlpd"], *scores.loc[names, "coverage"], seconds]
                rows[method].append(row)
                extra = f", {_structure(model)}" if kernel is None else ""
                if method == "nuts":
                    table = model.diagnostics(warn=False)
                    # The figure the earlier runs reported: a Gaussian with the mixture's moments.
                    moments = held_out_scores(model.predict(test, level=0.95), truth, problem.tasks, 0.95)
                    extra += (
                        f", moment-matched NLPD {_per_task(moments.loc[names, 'nlpd'], '+.3f')}, "
                        f"max R-hat {table['r_hat'].max():.3f}, "
                        f"min bulk ESS {table['ess_bulk'].min():.0f}, "
                        f"{table.attrs['divergences']} divergences"
                    )
                print(
                    f"  n={n} seed={seed} {method:4s}: NLPD {_per_task(row[:t], '+.3f')}, "
                    f"coverage {_per_task(row[t : 2 * t], '.3f')}, {seconds:.1f} s{extra}",
                    flush=True,
                )
        for method in ("map", "map point", "nuts"):
            summary.append((n, method, np.median(np.array(rows[method]), axis=0)))
    print()
    header = f"{'n':>3} {'method':9} " + " ".join(f"{'NLPD ' + t:>16}" for t in names)
    header += " " + " ".join(f"{'cov95 ' + t:>16}" for t in names) + f" {'time (s)':>9}"
    print(header)
    for n, method, med in summary:
        print(
            f"{n:>3} {method:9} "
            + " ".join(f"{v:>+16.3f}" for v in med[:t])
            + " "
            + " ".join(f"{v:>16.3f}" for v in med[t : 2 * t])
            + f" {med[2 * t]:>9.1f}"
        )
    print("(medians over seeds; NLPD in each task's modelled units, lower is better; coverage target 0.95)")


def diagnostics(problem: Problem, kernel: str | None, nuts: dict[str, int]) -> None:
    data = _data(problem, 30, 0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_nuts(data, kernel, settings=NutsSettings(**nuts), progress=False)
    seconds = time.perf_counter() - start
    table = model.diagnostics(warn=False)
    print(model)
    print(table.to_string(index=False))
    print(
        f"n=30: max R-hat {table['r_hat'].max():.4f}, min bulk ESS {table['ess_bulk'].min():.0f}, "
        f"min tail ESS {table['ess_tail'].min():.0f}, divergences {table.attrs['divergences']}, "
        f"BFMI {np.round(table.attrs['bfmi'], 2).tolist()}, wall time {seconds:.0f} s "
        f"(of which sampling {model.draws.seconds:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="h2o2", help="built-in name or 'file.py:Class'")
    parser.add_argument("--sizes", default="10,20,40", help="training sizes, comma separated")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--kernel", default="icm", help="structure of both fits; 'default': kernel=None")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=None, help="NUTS warm-up per chain (default: library)")
    parser.add_argument("--samples", type=int, default=None, help="NUTS draws per chain (default: library)")
    parser.add_argument("--chains", type=int, default=None, help="NUTS chains (default: library)")
    parser.add_argument(
        "--max-tree-depth", type=int, default=None, help="NUTS tree depth cap (default: library)"
    )
    parser.add_argument("--diagnostics", action="store_true", help="the n = 30 convergence figure instead")
    args = parser.parse_args()
    nuts = {
        "num_warmup": args.warmup,
        "num_samples": args.samples,
        "num_chains": args.chains,
        "max_tree_depth": args.max_tree_depth,
    }
    nuts = {k: v for k, v in nuts.items() if v is not None}
    kernel = None if args.kernel == "default" else args.kernel
    try:
        problem = get_problem(args.problem)
    except InputDataError as error:
        parser.exit(2, f"bayes_vs_map.py: {error}\n")
    if args.diagnostics:
        diagnostics(problem, kernel, nuts)
    else:
        compare(problem, [int(s) for s in args.sizes.split(",")], args.seeds, kernel, args.n_test, nuts)


if __name__ == "__main__":
    main()
