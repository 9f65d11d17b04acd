"""Campaign.run with a concurrent.futures executor: parallel evaluation, results recorded as they come."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pandas as pd
import pytest

from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.problems import AnalyticKinetics

FAST = {"num_restarts": 1, "raw_samples": 16, "maxiter": 20}


@pytest.fixture(scope="module")
def problem() -> AnalyticKinetics:
    return AnalyticKinetics(n_tasks=2)


def _campaign(tmp_path, problem: AnalyticKinetics) -> Campaign:
    return Campaign.create(
        tmp_path / "c.db",
        problem.space,
        problem.tasks,
        strategy="max_variance",
        strategy_options=FAST,
        initial=problem.sample(8, seed=1),
        kernel="independent",
        restarts=1,
    )


class _CountingOracle:
    """Evaluates one row at a time and remembers the threads it ran on and the row counts."""

    def __init__(self, problem: AnalyticKinetics) -> None:
        self.problem = problem
        self.threads: set[int] = set()
        self.rows: list[int] = []
        self.barrier = threading.Barrier(2, timeout=30)

    def __call__(self, conditions: pd.DataFrame) -> pd.DataFrame:
        self.threads.add(threading.get_ident())
        self.rows.append(len(conditions))
        self.barrier.wait()  # both experiments of a batch run at the same time, or this times out
        return self.problem.evaluate(conditions)


def test_thread_pool_evaluates_a_batch_in_parallel(tmp_path, problem):
    campaign = _campaign(tmp_path, problem)
    oracle = _CountingOracle(problem)
    with ThreadPoolExecutor(max_workers=2) as executor:
        report = campaign.run(oracle, budget=4, q=2, progress=False, executor=executor)
    assert report.reason == "budget" and report.experiments == 4
    assert oracle.rows == [1, 1, 1, 1]  # one call per experiment
    assert len(oracle.threads) == 2
    assert campaign.store.counts()["observations"].tolist() == [12, 12]
    assert (campaign.store.suggestions()["status"] == "completed").all()
    campaign.close()


class _FailingOracle:
    """Fails on the first experiment it sees, evaluates the others."""

    def __init__(self, problem: AnalyticKinetics) -> None:
        self.problem = problem
        self.lock = threading.Lock()
        self.calls = 0

    def __call__(self, conditions: pd.DataFrame) -> pd.DataFrame:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            raise RuntimeError("the shock tube broke")
        return self.problem.evaluate(conditions)


def test_a_failed_experiment_stays_pending_and_the_others_are_recorded(tmp_path, problem):
    campaign = _campaign(tmp_path, problem)
    with ThreadPoolExecutor(max_workers=1) as executor, pytest.raises(RuntimeError, match="shock tube"):
        campaign.run(_FailingOracle(problem), budget=3, q=3, progress=False, executor=executor)
    status = campaign.store.suggestions()["status"].value_counts().to_dict()
    assert status == {"completed": 2, "pending": 1}
    campaign.close()


def analytic_oracle(conditions: pd.DataFrame) -> pd.DataFrame:
    """A picklable oracle (a module-level function); the problem's draws are fixed by its seed."""
    return AnalyticKinetics(n_tasks=2).evaluate(conditions)


@pytest.mark.slow
def test_process_pool_with_a_picklable_oracle(tmp_path, problem):
    campaign = _campaign(tmp_path, problem)
    # spawn: a forked child of a process running torch threads may deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        report = campaign.run(analytic_oracle, budget=2, q=2, progress=False, executor=executor)
    assert report.experiments == 2
    assert campaign.store.counts()["observations"].tolist() == [10, 10]
    # The values recorded are those of the problem here: the processes computed the real thing.
    obs = campaign.observations()
    new = obs[obs["source"] == "observe"]
    truth = problem.evaluate(new.drop_duplicates("suggestion_id")[problem.space.names])
    assert sorted(new[new["task"] == "log_k"]["value"]) == pytest.approx(sorted(truth["log_k"]), rel=1e-12)
    campaign.close()
