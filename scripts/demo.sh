#!/usr/bin/env bash
# The main job: set up if needed, then run the demo on the built-in Cantera H2/O2 problem (no network).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${MTGP_VENV:-.venv}/bin/mtgp-kinetics" demo "$@"
