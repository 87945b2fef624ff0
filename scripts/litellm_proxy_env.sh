#!/usr/bin/env bash
# Creates (or reuses) .venv-litellm: a virtual environment of its own holding a pinned LiteLLM proxy,
# for tests/test_litellm_proxy.py. It is separate from .venv because LiteLLM pins its own dependency
# set (fastapi, uvicorn, pydantic, openai, ...), which must not leak into the library's environment.
#
#   bash scripts/litellm_proxy_env.sh            # create or reuse
#   bash scripts/litellm_proxy_env.sh --force    # rebuild from scratch
#
# The version is pinned deliberately. LiteLLM's PyPI releases 1.82.7 and 1.82.8 (March 2026) were
# malicious uploads, and 1.107.0 is reported compromised too; 1.81.13 predates both incidents. Change
# the pin only after checking the new release is a genuine one, and re-run the test against it.
# Only wheels are installed (no sdist build step runs), every dependency is pinned to the set this
# test was verified with, and the result is checked for start-up hooks (.pth files) it should not have.
set -euo pipefail
cd "$(dirname "$0")/.."

LITELLM_VERSION=1.81.13
VENV=${AGENTOS_LLM_LITELLM_VENV:-.venv-litellm}
PY=${PYTHON:-python3}

# The whole dependency set `litellm[proxy]==1.81.13` resolved to when this test was verified.
CONSTRAINTS=$(cat <<'EOF'
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
APScheduler==3.11.3
attrs==26.1.0
azure-core==1.41.0
azure-identity==1.27.0
azure-storage-blob==12.31.1
backoff==2.2.1
boto3==1.40.76
botocore==1.40.76
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
click==8.5.1
croniter==7.0.0
cryptography==50.0.2
dnspython==2.9.2
email-validator==2.4.0
fastapi==0.165.0
fastapi-sso==0.16.0
fastuuid==0.14.0
filelock==4.2.11
frozenlist==1.8.0
fsspec==2026.9.0
gunicorn==23.0.0
h11==0.16.0
hf-xet==1.8.0
httpcore==1.0.9
httpcore2==2.16.2
httpx==0.28.1
httpx-sse==0.4.3
httpx2==2.16.2
huggingface_hub==2.4.0
idna==3.20
importlib_metadata==10.2.0
isodate==0.7.2
Jinja2==3.1.6
jiter==0.19.0
jmespath==1.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
lazy-importer==0.1.0
litellm==1.81.13
litellm-enterprise==0.1.32
litellm-proxy-extras==0.4.40
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mcp==1.30.0
mdurl==0.1.2
msal==1.39.0
msal-extensions==1.3.1
multidict==7.2.1
oauthlib==4.0.1
openai==3.52.0
opentelemetry-api==1.45.2
orjson==3.13.0
packaging==26.3
polars==1.44.2
polars-runtime-32==1.44.2
propcache==0.5.4
pycparser==3.12
pydantic==2.14.3
pydantic-settings==2.16.3
pydantic_core==2.50.4
Pygments==2.21.0
PyJWT==2.15.1
PyNaCl==1.6.2
pyroscope-io==0.8.16
python-dateutil==2.9.0.post0
python-dotenv==1.2.4
python-multipart==0.0.22
PyYAML==6.0.3
redis==8.1.0
referencing==0.37.0
regex==2026.11.15
requests==2.34.2
rich==13.7.1
rpds-py==2026.9.1
rq==2.12.0
s3transfer==0.14.0
six==1.17.0
sniffio==1.3.1
soundfile==0.12.1
sse-starlette==3.7.0
starlette==1.10.0
tiktoken==0.14.0
tokenizers==0.23.3
tqdm==4.70.1
truststore==0.10.5
typing-inspection==0.4.5
typing_extensions==4.16.0
tzlocal==5.4.5
urllib3==2.8.0
uvicorn==0.31.1
uvloop==0.21.0
websockets==15.0.1
yarl==1.25.1
zipp==4.1.2
EOF
)

STAMP="$VENV/.agentos-litellm-stamp"
WANT=$(printf '%s\n%s\n' "$LITELLM_VERSION" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)

if [ "${1:-}" != "--force" ] && [ -x "$VENV/bin/litellm" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "litellm_proxy_env: reusing $VENV (litellm $LITELLM_VERSION)"
  exit 0
fi

start=$(date +%s)
echo "litellm_proxy_env: creating $VENV with litellm[proxy]==$LITELLM_VERSION"
rm -rf "${VENV:?}"
"$PY" -m venv "$VENV"
constraints_file=$(mktemp)
trap 'rm -f "$constraints_file"' EXIT
printf '%s\n' "$CONSTRAINTS" > "$constraints_file"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
  -c "$constraints_file" "litellm[proxy]==$LITELLM_VERSION"

# A start-up hook in site-packages runs on every interpreter start: the 1.82.8 payload was one.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
unexpected=$(find "$site" -maxdepth 1 -name '*.pth' ! -name 'distutils-precedence.pth' ! -name '_virtualenv.pth' -print)
if [ -n "$unexpected" ]; then
  echo "litellm_proxy_env: unexpected start-up hooks in $site, refusing this environment:" >&2
  echo "$unexpected" >&2
  rm -rf "${VENV:?}"
  exit 1
fi
installed=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')
if [ "$installed" != "$LITELLM_VERSION" ]; then
  echo "litellm_proxy_env: installed litellm $installed, expected $LITELLM_VERSION" >&2
  exit 1
fi

echo "$WANT" > "$STAMP"
echo "litellm_proxy_env: $VENV ready (litellm $installed) in $(( $(date +%s) - start ))s"
