#!/usr/bin/env bash
# One command for the whole test suite on a fresh machine:
#   installs sagescale with every extra the tests use into .venv (torch pinned by
#   constraints.txt to the CPU wheel), Chromium for the HTML-report test when it can,
#   then runs ruff, mypy --strict, the docs build and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[dev,all]'
if [ "${SAGESCALE_TEST_SAGEMAKER_SDK:-1}" = 1 ]; then
  # the official SDK (extra `sagemaker`) is large; the hand-off tests need it
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[sagemaker]' \
    || echo "warning: the sagemaker extra could not be installed; its tests will skip"
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: chromium could not be installed; the browser test will skip"
fi

export GLOO_SOCKET_IFNAME=lo OMP_NUM_THREADS=1
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
if [ -f mkdocs.yml ]; then echo "== mkdocs"; .venv/bin/mkdocs build --strict -q -d "$(mktemp -d)"; fi
echo "== pytest"; .venv/bin/python -m pytest "$@"
