#!/usr/bin/env bash
# Runs every test. On a fresh machine it first installs what the tests need:
# the Python packages, and Debian's Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -r requirements.txt -r tests/requirements.txt
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export GRADIO_ANALYTICS_ENABLED=False
exec python -m pytest tests "$@"
