#!/usr/bin/env bash
# The test suite as CI runs it: cassettes replay only, and no connection leaves 127.0.0.1.
# `-rsx` ends the run with every skipped test and expected failure and why (skips with one reason at one place
# are folded into a single line with their count), so a suite that shrank says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
export AGENTOS_LLM_CASSETTE_NO_EMULATOR=1
exec "$PY" -m pytest -q -rsx --record-mode=none --block-network --allowed-hosts='127\.0\.0\.1,localhost' "$@"
