"""Shared, seeded fixtures: a small heterotopic analytic data set and models fitted on it once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.problems import AnalyticKinetics


@pytest.fixture(autouse=True)
def _seed_and_isolate_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Seed torch for every test and keep the Cantera cache out of the user's home directory."""
    torch.manual_seed(0)
    monkeypatch.setenv("MTGP_KINETICS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def analytic_problem() -> AnalyticKinetics:
    return AnalyticKinetics(n_tasks=2)


@pytest.fixture(scope="session")
def analytic_data(analytic_problem: AnalyticKinetics) -> mk.Dataset:
    """24 conditions, the mechanism task measured at half of them."""
    frame = analytic_problem.sample(24, seed=1, observed_fraction={"f_a": 0.5})
    return mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)


@pytest.fixture(scope="session")
def fitted(analytic_data: mk.Dataset) -> dict[str, mk.KineticsModel]:
    """One model per named kernel (2 MAP starts each, enough on this smooth problem)."""
    return {
        name: mk.fit(analytic_data, kernel=name, restarts=2, check_transfer=False)
        for name in ("icm", "lmc", "independent")
    }


@pytest.fixture(scope="session")
def unrelated_data() -> mk.Dataset:
    """Two tasks with nothing in common: a smooth trend in T and an unrelated wiggle in P."""
    space = mk.Space(
        [
            mk.Continuous("T", 600, 1200, unit="K", transform="inverse"),
            mk.Continuous("P", 0.1, 10, transform="log"),
        ]
    )
    tasks = [mk.Task("a", kind="rate"), mk.Task("b", kind="mechanism")]
    frame = space.sample(40, seed=0)
    u = space.to_model(frame).numpy()
    rng = np.random.default_rng(0)
    frame["a"] = 2.0 * u[:, 0] + 0.05 * rng.standard_normal(40)
    frame["b"] = np.sin(9.0 * u[:, 1] + 1.0) + 0.05 * rng.standard_normal(40)
    frame.loc[frame.index[::2], "b"] = np.nan
    return mk.Dataset.from_frame(frame, space, tasks)


@pytest.fixture(scope="session")
def load_benchmark():
    """``load(stem)``: the script ``benchmarks/<stem>.py`` imported as a module (removed at the end)."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    loaded: list[str] = []

    def load(stem: str):
        spec = importlib.util.spec_from_file_location(stem, folder / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[stem] = module  # dataclasses of the script look their module up by name
        spec.loader.exec_module(module)
        loaded.append(stem)
        return module

    yield load
    for stem in loaded:
        sys.modules.pop(stem, None)
