"""Every example script runs in its fast mode and writes its plots (as CI runs them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "examples").glob("*.sh"))
SHARED_DATA = ROOT.parent / "shared" / "data"

#: PNG files each example must write (examples not listed must write at least one PNG).
EXPECTED = {
    "fit_and_predict.py": ["arrhenius_tau_ign.png"],
    # Its own name: run into the same --out, it must not overwrite fit_and_predict's figure.
    "activation_energy.py": ["activation_energy_arrhenius_tau_ign.png", "activation_energy_tau_ign.png"],
    "campaign_python.py": [
        "campaign_python_log_k.png",
        "campaign_python_f_a.png",
        "campaign_python_task_correlation.png",
    ],
    "campaign_cli.py": ["campaign_cli_report/task_correlation.png", "campaign_cli_report/parity_f_a.png"],
    "parallel_dask.py": ["parallel_dask_arrhenius.png", "parallel_dask_task_correlation.png"],
    **{
        f"real_{name}.py": [f"{name}_task_correlation.png", f"{name}_cv_parity.png", f"{name}_replay.png"]
        for name in ("butanol", "reizman", "baumgartner")
    },
}
#: Examples that take seconds; the others fit several models (tens of seconds) and are marked slow.
QUICK = {"fit_and_predict.py"}
#: Wall-clock limit of one example (generous: CI machines and shared cores are slow).
TIMEOUT_S = 900


def _params() -> list:
    params = []
    for path in EXAMPLES:
        marks = [] if path.name in QUICK else [pytest.mark.slow]
        if path.name.startswith("real_"):
            marks.append(
                pytest.mark.skipif(
                    not SHARED_DATA.is_dir(), reason=f"the real data sets are not at {SHARED_DATA}"
                )
            )
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def test_the_listed_examples_exist():
    assert set(EXPECTED) <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("script", _params())
def test_example_runs_and_writes_its_plots(script: Path, tmp_path: Path):
    out = tmp_path / "out"
    command = ["bash", str(script)] if script.suffix == ".sh" else [sys.executable, str(script)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [*command, "--fast", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert pngs, f"{script.name} wrote no PNG to {out}"
    missing = [name for name in EXPECTED.get(script.name, []) if name not in pngs]
    assert not missing, f"{script.name} did not write {missing}; it wrote {pngs}"
    for png in out.rglob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG file"
