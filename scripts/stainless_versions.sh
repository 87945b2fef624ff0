#!/usr/bin/env bash
# Runs the OpenAI and Anthropic tests against the oldest openai and anthropic SDKs that the `openai` and
# `anthropic` extras allow (pyproject.toml), in a fresh virtual environment with the repository installed; the
# main environment has the newest. For CI: the providers send through `sdk_fast_post`, which uses the SDKs'
# request internals (with a fallback to their public `post`), so the oldest allowed must pass too.
#
#   bash scripts/stainless_versions.sh [pytest args...]     (default: the OpenAI and Anthropic test files, -q)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
WORK="$(mktemp -d -t stainless-versions-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

oldest() {  # the lower bound of the extra's requirement on the package
  "$PY" - "$1" <<'PY'
import re, sys, tomllib
name = sys.argv[1]
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"][name]
spec = next(s for s in extra if s.replace(" ", "").startswith(name))
print(re.search(r">=\s*([0-9][0-9.]*)", spec).group(1))
PY
}
openai_oldest="$(oldest openai)"
anthropic_oldest="$(oldest anthropic)"
tests=(tests/test_sdk_fast_post.py tests/test_openai_provider.py tests/test_openai_responses_provider.py
       tests/test_anthropic_provider.py tests/test_cassettes.py tests/test_cassettes_anthropic.py
       tests/test_cassettes_responses.py)
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(-q "${tests[@]}")

venv="$WORK/oldest"
"$PY" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -e ".[openai,anthropic,dev]"
"$venv/bin/pip" install -q "openai==$openai_oldest" "anthropic==$anthropic_oldest"
versions="$("$venv/bin/python" -c 'import openai, anthropic; print(f"openai {openai.__version__}, anthropic {anthropic.__version__}")')"
echo "== $versions (the oldest the extras allow)"
start=$(date +%s)
status=0
AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 "$venv/bin/python" -m pytest -p no:cacheprovider \
  --record-mode=none --block-network --allowed-hosts='127\.0\.0\.1,localhost' "${args[@]}" || status=1
echo "== $versions: $(( $(date +%s) - start )) s of tests"
exit $status
