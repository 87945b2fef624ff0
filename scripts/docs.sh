#!/usr/bin/env bash
# Builds the docs site as CI does: `mkdocs build --strict`, so a broken link, a page missing from the nav or an
# API reference entry that does not resolve fails the build. Offline: nothing is fetched at build time.
# Needs the docs extra: .venv/bin/pip install -e ".[docs]". Extra arguments go to mkdocs (e.g. --site-dir DIR).
set -euo pipefail
export NO_MKDOCS_2_WARNING=1  # a notice about Material's successor, printed on every build
cd "$(dirname "$0")/.."
MKDOCS=.venv/bin/mkdocs
[ -x "$MKDOCS" ] || MKDOCS=mkdocs
exec "$MKDOCS" build --strict --clean "$@"
