"""Observations of a campaign in wide form: one row per experiment, one column per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mtgp_kinetics.campaign.results import SUGGESTION_ID
from mtgp_kinetics.space import Space
from mtgp_kinetics.tasks import Task


def wide_results(obs: pd.DataFrame, space: Space, tasks: Sequence[Task]) -> pd.DataFrame:
    """Observations, one row per result -> one row per experiment.

    An experiment is a suggestion (all its results at the same conditions: results recorded
    ``as_run`` at other conditions get a row of their own) or, for unsolicited results, one row of
    a recorded frame (``record_id``, ``source_row``); rows come in order of their first result.

    Parameters
    ----------
    obs : DataFrame
        As returned by :meth:`CampaignStore.observations` (current results only).
    space : Space
        The conditions.
    tasks : sequence of Task
        The tasks.

    Returns
    -------
    DataFrame
        ``suggestion_id`` (nullable int), the conditions, per task its value and its
        ``noise_column`` (if any) right after it, then ``source`` and ``note`` (distinct values
        joined by ``"; "``) and ``recorded_at`` (the latest).
    """
    sid = obs[SUGGESTION_ID]
    conditions = list(obs[space.names].itertuples(index=False, name=None))
    keys = [
        ("suggestion", int(s), where) if not pd.isna(s) else ("row", int(r), str(label))
        for s, r, label, where in zip(sid, obs["record_id"], obs["source_row"], conditions, strict=True)
    ]
    slot: dict[tuple[Any, ...], int] = {}
    for key in keys:
        slot.setdefault(key, len(slot))
    where = np.array([slot[k] for k in keys], dtype=np.int64)
    first = ~pd.Series(where).duplicated().to_numpy()
    out = pd.DataFrame({SUGGESTION_ID: sid[first].reset_index(drop=True)})
    for name in space.names:
        out[name] = obs.loc[first, name].to_numpy()
    for task in tasks:
        mask = (obs["task"] == task.name).to_numpy()
        values = np.full(len(out), np.nan)
        values[where[mask]] = obs["value"].to_numpy()[mask]
        out[task.name] = values
        if task.noise_column is not None:
            noise = np.full(len(out), np.nan)
            noise[where[mask]] = obs["noise"].to_numpy()[mask]
            out[task.noise_column] = noise

    def joined(column: str) -> list[str | None]:
        parts: list[list[str]] = [[] for _ in range(len(out))]
        for w, text in zip(where, obs[column], strict=True):
            if not pd.isna(text) and text not in parts[w]:
                parts[w].append(text)
        return ["; ".join(p) if p else None for p in parts]

    out["source"] = joined("source")
    latest: list[str] = [""] * len(out)
    for w, at in zip(where, obs["recorded_at"], strict=True):
        latest[w] = max(latest[w], at)
    out["recorded_at"] = latest
    out["note"] = joined("note")
    return out
