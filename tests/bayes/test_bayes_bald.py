"""BALD: the strategy picks where hyperparameter draws disagree, and a campaign can use it by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.bayes import BayesianKineticsModel
from mtgp_kinetics.bayes.bald import mutual_information
from mtgp_kinetics.campaign.acquisition import Pool, get_strategy


def test_bald_picks_where_draws_disagree(nuts_model: BayesianKineticsModel, analytic_problem) -> None:
    space = analytic_problem.space
    conditions = space.sample(24, seed=7)
    pool = Pool(space.to_model(conditions))
    strategy = get_strategy("bald", variance_weight=0.0)
    X, values = strategy.suggest(nuts_model, pool, q=1, rng=np.random.default_rng(0))
    pick = int(torch.nonzero((pool.X == X[0]).all(-1))[0])
    # The same quantity through the model's own per-draw predictions (measurements: noise included).
    _, mu, s = nuts_model.predict_draws(conditions, observation_noise=True)
    scale = np.tile(nuts_model.base.y_std.numpy(), len(conditions))  # to standardized units
    info = mutual_information(mu / scale, s / scale).reshape(len(conditions), -1).sum(-1)
    assert pick == int(np.argmax(info))
    assert float(values[0]) == pytest.approx(info[pick], rel=1e-6)
    # Disagreement: spread of the draws' means relative to their own predictive spread.
    disagreement = (mu.var(0) / (s**2).mean(0)).reshape(len(conditions), -1).sum(-1)
    assert disagreement[pick] > np.median(disagreement)


def test_bald_batch_is_distinct_and_spreads(nuts_model: BayesianKineticsModel, analytic_problem) -> None:
    pool = Pool(analytic_problem.space.to_model(analytic_problem.space.sample(16, seed=8)))
    X, values = get_strategy("bald").suggest(nuts_model, pool, q=3, rng=np.random.default_rng(0))
    assert X.shape == (3, pool.X.shape[1]) and torch.isfinite(values).all()
    assert len({tuple(row.tolist()) for row in X}) == 3


def test_a_bald_batch_conditions_every_draw_on_one_fantasy(
    nuts_model: BayesianKineticsModel, analytic_problem
) -> None:
    """One experiment gives one value that every hyperparameter draw must explain.

    Conditioned on that common fantasy, the draws' means at the pick move together and their
    spread there falls; each draw conditioned on its own mean (before session 20) kept the spread
    exactly, and with it the disagreement BALD scores, however often the pick were measured.
    """
    import copy

    from mtgp_kinetics.campaign.acquisition import _fantasize, _fantasize_together

    x = analytic_problem.space.to_model(analytic_problem.space.sample(1, seed=5))  # 1 x d
    gps = []
    for u in nuts_model.predictive_draws()[:: max(1, len(nuts_model.predictive_draws()) // 8)]:
        with nuts_model.at_draw(u) as base:
            gps.append(copy.deepcopy(base.gp))

    def spread(models):
        with torch.no_grad():
            return torch.stack([gp.posterior(x).mean for gp in models]).std(0).max()

    before = spread(gps)
    assert spread([_fantasize(gp, x) for gp in gps]) == pytest.approx(float(before), rel=1e-6)
    assert spread(_fantasize_together(gps, x)) < 0.5 * before


def test_bald_needs_posterior_draws(fitted: dict[str, mk.KineticsModel], analytic_problem) -> None:
    pool = Pool(analytic_problem.space.to_model(analytic_problem.space.sample(4, seed=9)))
    with pytest.raises(mk.InputDataError, match="method='nuts'"):
        get_strategy("bald").suggest(fitted["icm"], pool, q=1)


def test_campaign_with_bald(analytic_problem, tmp_path, capsys) -> None:
    initial = analytic_problem.sample(12, seed=2)
    # mk.Campaign is the campaign class; without a method, strategy "bald" fits by NUTS.
    campaign = mk.Campaign.create(
        tmp_path / "c.db",
        analytic_problem.space,
        analytic_problem.tasks[:2],
        strategy="bald",
        initial=initial[[*analytic_problem.space.names, "log_k", "f_a"]],
        kernel="icm",
        restarts=1,
        strategy_options={"n_draws": 4, "n_candidates": 32},
        fit_options={
            "num_warmup": 15,
            "num_samples": 15,
            "num_chains": 2,
            "progress": False,
        },
    )
    with pytest.warns(mk.ConvergenceWarning):
        suggestions = campaign.suggest(q=2)
    assert campaign.settings["fit_options"]["method"] == "nuts"
    assert isinstance(campaign.model, BayesianKineticsModel)
    assert len(suggestions) == 2 and (suggestions["strategy"] == "bald").all()
    campaign.close()

    # The CLI's status and report work on a campaign whose model is a NUTS fit.
    from mtgp_kinetics.cli import main

    with pytest.warns(mk.ConvergenceWarning):
        assert main(["status", "--db", str(tmp_path / "c.db")]) == 0
    assert "leave-one-out standard deviations" in capsys.readouterr().out
    with pytest.warns(mk.ConvergenceWarning):
        assert main(["report", "--db", str(tmp_path / "c.db"), "--out", str(tmp_path / "report")]) == 0
    assert list((tmp_path / "report").glob("*.png"))


def test_campaign_refuses_fit_options_it_cannot_use(analytic_problem, tmp_path) -> None:
    initial = analytic_problem.sample(12, seed=2)[[*analytic_problem.space.names, "log_k", "f_a"]]
    for options, match in [
        ({"seed": 3}, r"fit_options \['seed'\]: the campaign sets these itself"),
        ({"num_warmpu": 10}, r"fit_options \['num_warmpu'\] are not keywords"),
        ({"num_warmup": -1}, "num_warmup must be an integer"),
    ]:
        with pytest.raises(mk.InputDataError, match=match):
            mk.Campaign.create(
                tmp_path / "c.db",
                analytic_problem.space,
                analytic_problem.tasks[:2],
                strategy="bald",
                initial=initial,
                fit_options=options,
            )
        assert not (tmp_path / "c.db").exists()
