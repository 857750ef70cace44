#!/usr/bin/env bash
# Regenerates test/fixtures/converted/ with the real tensorflowjs_converter (by hand, not in CI:
# the TensorFlow venv is ~2 GB). Models with random weights are built in TensorFlow and converted;
# see scripts/python/make_converter_fixtures.py for the list, and the README it writes.
#
# The venv, .venv-convert/ (git-ignored), is made once; a second run reuses it.
# Why these pins: scripts/python/convert-requirements.txt.
# --venv-only: make the venv and stop (to time the install, or to run the converter by hand).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-convert
req=scripts/python/convert-requirements.txt
nodeps=scripts/python/convert-nodeps.txt
stamp="$venv/.ready-$(cat "$req" "$nodeps" | sha1sum | cut -c1-12)"

if [ ! -f "$stamp" ]; then
  start=$(date +%s)
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  echo "make-converter-fixtures: installing TensorFlow and tensorflowjs into $venv (~2 GB, a few minutes)" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$nodeps"
  "$venv/bin/python" -c 'import tensorflowjs.converters.converter' 2>/dev/null
  touch "$stamp"
  echo "make-converter-fixtures: venv ready in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
fi

[ "${1:-}" = "--venv-only" ] && exit 0
TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" scripts/python/make_converter_fixtures.py
du -sh test/fixtures/converted
