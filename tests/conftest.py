"""Shared, seeded fixtures: a small heterotopic analytic data set and models fitted on it once."""

from __future__ import annotations

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
