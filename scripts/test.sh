#!/usr/bin/env bash
# The test command: set up if needed, lint, build the documentation, then run the whole test suite
# (slow group included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${MTGP_VENV:-.venv}
"$VENV/bin/ruff" check .
# The documentation site, strict (broken links, bad docstrings and unknown pages fail), built outside
# the repository; then every public function and class of the package must have an entry in its API
# reference (docs/api/*.md: one ::: block per module, or a subpackage with show_submodules).
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet --site-dir "$site"
"$VENV/bin/python" - "$site" <<'PY'
import ast
import pathlib
import re
import sys

ids = set()
for page in pathlib.Path(sys.argv[1], "api").rglob("*.html"):
    ids |= set(re.findall(r'id="(mtgp_kinetics[\w.]*)"', page.read_text()))
missing = []
for path in sorted(pathlib.Path("mtgp_kinetics").rglob("*.py")):
    parts = path.with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    if any(p.startswith("_") for p in parts):
        continue
    module = ".".join(parts)
    names = [module] + [
        f"{module}.{node.name}"
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
    ]
    missing += [name for name in names if name not in ids]
if missing:
    sys.exit(f"not in the API reference (add a ::: block under docs/api/): {missing}")
PY
"$VENV/bin/python" -m pytest -q "$@"
