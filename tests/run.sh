#!/usr/bin/env bash
# Runs the linter and every test. On a fresh machine it first installs what they need:
# the Python packages, Debian's Chromium for the browser tests, and curl and openssl, which
# run the docs' signing recipe and the page's curl snippet. A missing one fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -r requirements.txt -r tests/requirements.txt
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export GRADIO_ANALYTICS_ENABLED=False
# The linter first (pyproject.toml holds its configuration); its findings fail the run too,
# after the tests have had their say.
lint=0
python -m ruff check . || lint=$?
tests=0
# Three workers, each taking whole test files (a file's app and browser are set up once):
# about 13 minutes instead of 22 on two cores, since most tests wait rather than compute.
python -m pytest tests -n 3 --dist loadfile "$@" || tests=$?
[ "$lint" -ne 0 ] && echo "ruff check found problems (see above)" >&2
[ "$tests" -ne 0 ] && exit "$tests"
exit "$lint"
