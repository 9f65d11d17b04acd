#!/usr/bin/env bash
# The test command: set up if needed, lint, then run the whole test suite (slow group included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${MTGP_VENV:-.venv}
"$VENV/bin/ruff" check .
exec "$VENV/bin/python" -m pytest -q "$@"
