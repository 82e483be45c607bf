#!/usr/bin/env bash
# Runs every test. On a fresh machine it first installs what the tests need:
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
exec python -m pytest tests "$@"
