#!/usr/bin/env bash
# The test command: set up if needed, lint, build the documentation, then run the whole test suite
# (slow group included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${MTGP_VENV:-.venv}
"$VENV/bin/ruff" check .
# Every module of the package must have a page in the API reference (docs/api/*.md, ::: blocks;
# a subpackage documented with show_submodules covers its modules).
"$VENV/bin/python" - <<'PY'
import pathlib
import re
import sys

documented = set()
for page in pathlib.Path("docs/api").glob("*.md"):
    documented |= set(re.findall(r"^::: (mtgp_kinetics[\w.]*)", page.read_text(), flags=re.M))
missing = []
for path in sorted(pathlib.Path("mtgp_kinetics").rglob("*.py")):
    parts = path.with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if any(p.startswith("_") for p in parts):
        continue
    name = ".".join(parts)
    if not any(name == d or name.startswith(d + ".") and d != "mtgp_kinetics" for d in documented):
        missing.append(name)
if missing:
    sys.exit(f"modules without an API reference page (add a ::: block under docs/api/): {missing}")
PY
# The documentation site, strict (broken links, bad docstrings and unknown pages fail); built
# outside the repository.
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet --site-dir "$site"
"$VENV/bin/python" -m pytest -q "$@"
