"""The README's quickstart runs as written (a snippet that fails is the first thing a user meets)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_code() -> str:
    """The first Python block under the README's "Quickstart" heading."""
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md has no Python block under '## Quickstart'"
    return match.group(1)


def test_quickstart_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # it writes h2o2.mtgp
    namespace: dict = {}
    exec(compile(quickstart_code(), "README.md quickstart", "exec"), namespace)
    assert (tmp_path / "h2o2.mtgp").is_file()
    loaded = namespace["model"]
    assert loaded.task_names == ["tau_ign", "f_branch"]
    assert "coverage" in capsys.readouterr().out
