"""docs/getting_started.md runs as written, on its own CSV route (a space with a categorical bath gas)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "getting_started.md"


def page_blocks() -> list[str]:
    """The page's Python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


@pytest.mark.slow
def test_getting_started_runs_on_its_csv_route(tmp_path, monkeypatch):
    """Every block but "No data yet" (the simulated route, which replaces ``data``), so the later
    blocks run on the CSV whose space has a categorical the built-in problem lacks (a user's
    first session found ``problem.space.sample`` there, which the model refused)."""
    blocks = [b for b in page_blocks() if "problem = H2O2Ignition()" not in b]
    assert len(blocks) == len(page_blocks()) - 1, "the simulated-data block was not found"
    monkeypatch.chdir(tmp_path)  # it writes experiments.csv, tau.png and h2o2.mtgp
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    assert "bath" in namespace["data"].space.names
    assert set(namespace["pred"]["bath"]) <= {"Ar", "N2"}
    assert (tmp_path / "tau.png").is_file() and (tmp_path / "h2o2.mtgp").is_file()
