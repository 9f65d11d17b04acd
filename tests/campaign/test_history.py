"""Learning history: the posterior of each prefix of a campaign's experiments, hyperparameters fixed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.campaign.history import experiment_numbers, learning_history
from mtgp_kinetics.model_checking import held_out_scores
from mtgp_kinetics.problems import AnalyticKinetics


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Campaign:
    problem = AnalyticKinetics(n_tasks=2)
    path = tmp_path_factory.mktemp("history") / "c.db"
    campaign = Campaign.create(
        path,
        problem.space,
        problem.tasks,
        strategy="max_variance",
        strategy_options={"num_restarts": 1, "raw_samples": 16, "maxiter": 20},
        initial=problem.sample(6, seed=1),
        kernel="independent",
        restarts=1,
    )
    campaign.run(problem.evaluate, budget=3, progress=False)
    return campaign


def test_experiment_numbers_follow_the_record_order(campaign):
    numbers = experiment_numbers(campaign.observations())
    assert numbers.tolist() == [k for k in range(1, 10) for _ in range(2)]


def test_the_full_prefix_is_the_model_prediction(campaign):
    problem = AnalyticKinetics(n_tasks=2)
    points = problem.space.sample(40, seed=3)
    truth = problem.evaluate(points)
    history = learning_history(campaign.model, campaign.observations(), points, truth=truth, start=4)
    assert history["experiments"].tolist() == [k for k in range(4, 10) for _ in range(2)]
    last = history[history["experiments"] == 9].set_index("task")
    # The history conditions on prefixes at fixed hyperparameters: the MAP-point predictive.
    prediction = campaign.model.predict(points, hyperparameter_uncertainty=False)
    stats = prediction.groupby("task")["std"].agg(["max", "mean"])
    modelled = prediction.groupby("task")["transformed_std"].agg(["max", "mean"])
    scores = held_out_scores(prediction, truth, problem.tasks, 0.95)
    # Same posterior, two computations (gpytorch vs one Cholesky here, jitter aside): ~1e-8 relative.
    for task in ("log_k", "f_a"):
        assert last.loc[task, "max_std"] == pytest.approx(stats.loc[task, "max"], rel=1e-6)
        assert last.loc[task, "mean_std"] == pytest.approx(stats.loc[task, "mean"], rel=1e-6)
        assert last.loc[task, "max_transformed_std"] == pytest.approx(modelled.loc[task, "max"], rel=1e-6)
        assert last.loc[task, "mean_transformed_std"] == pytest.approx(modelled.loc[task, "mean"], rel=1e-6)
        assert last.loc[task, "rmse"] == pytest.approx(scores.loc[task, "rmse"], rel=1e-6)
        assert last.loc[task, "nlpd"] == pytest.approx(scores.loc[task, "nlpd"], rel=1e-6)
    # More data never raises the average latent variance (hyperparameters fixed).
    for _, rows in history.groupby("task"):
        assert np.all(np.diff(rows["mean_transformed_std"].to_numpy()) <= 1e-12)
    assert isinstance(history, pd.DataFrame)
