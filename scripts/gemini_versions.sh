#!/usr/bin/env bash
# Runs the Gemini tests against the oldest and the newest google-genai that the `gemini` extra allows
# (pyproject.toml), each in a fresh virtual environment with the repository installed. For CI: the Gemini
# provider uses google-genai internals for speed (with a public-API fallback), so both ends must pass.
#
#   bash scripts/gemini_versions.sh [pytest args...]     (default: the Gemini test files, -q)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
WORK="$(mktemp -d -t gemini-versions-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

spec="$("$PY" - <<'PY'
import re, tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["gemini"]
print(next(s for s in extra if s.replace(" ", "").startswith("google-genai")))
PY
)"
oldest="$(echo "$spec" | sed -nE 's/.*>=\s*([0-9][0-9.]*).*/\1/p')"
[ -n "$oldest" ] || { echo "no lower bound in the gemini extra: $spec" >&2; exit 2; }
tests=(tests/test_gemini_converters.py tests/test_gemini_provider.py tests/test_gemini_fallback.py tests/test_gemini_transport.py
       tests/genai_fast_send
       tests/test_cassettes_gemini.py)
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(-q "${tests[@]}")

status=0
for label in oldest newest; do
  venv="$WORK/$label"
  "$PY" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e ".[gemini,dev]" 2>/dev/null || "$venv/bin/pip" install -q -e ".[gemini]" pytest
  if [ "$label" = oldest ]; then
    "$venv/bin/pip" install -q "google-genai==$oldest"
  else
    "$venv/bin/pip" install -q --upgrade "$spec"
  fi
  version="$("$venv/bin/python" -c 'import google.genai as g; print(g.__version__)')"
  echo "== google-genai $version ($label allowed by '$spec')"
  start=$(date +%s)
  if ! "$venv/bin/python" -m pytest -p no:cacheprovider "${args[@]}"; then status=1; fi
  echo "== google-genai $version: $(( $(date +%s) - start )) s of tests"
done
exit $status
