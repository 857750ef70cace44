#!/usr/bin/env bash
# Makes sure the system tools the tests and the tutorial need are present, and registers the tslab
# kernel for this project only (under .jupyter-local, never in the user's Jupyter).
# Idempotent: a second run installs nothing. Prints one exact instruction when it cannot install.
set -euo pipefail
cd "$(dirname "$0")/.."

need_browser="${TSLAB_CAM_NEED_BROWSER:-1}"

have_jupyter() {
  command -v jupyter >/dev/null 2>&1 && jupyter_python -c 'import nbclient, nbconvert, notebook' >/dev/null 2>&1
}
# Debian's Jupyter lives in the system python; a pyenv/venv python earlier on PATH lacks it.
jupyter_python() {
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import nbclient' >/dev/null 2>&1; then /usr/bin/python3 "$@"; else python3 "$@"; fi
}
have_browser() { [ "$need_browser" = 0 ] || command -v chromium >/dev/null 2>&1; }

missing=()
have_jupyter || missing+=(jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client)
have_browser || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-system: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif ! have_jupyter && command -v pip3 >/dev/null 2>&1 && pip3 install --user --quiet notebook nbconvert nbclient >/dev/null 2>&1; then
    echo "ensure-system: installed Jupyter with pip --user" >&2
  else
    echo "ensure-system: missing ${missing[*]}." >&2
    echo "Install them, e.g. on Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
    echo "(or: pip install --user notebook nbconvert nbclient), then run this command again." >&2
    exit 1
  fi
fi

[ "${1:-}" = "--system-only" ] && exit 0

# Register the tslab kernel in a project-local Jupyter path; other kernels stay untouched.
prefix="$PWD/.jupyter-local"
spec="$prefix/share/jupyter/kernels/tslab/kernel.json"
tslab_bin="$PWD/node_modules/.bin/tslab"
if [ ! -x "$tslab_bin" ]; then
  echo "ensure-system: $tslab_bin is missing; run npm install first." >&2
  exit 1
fi
if [ ! -f "$spec" ] || ! grep -q "$tslab_bin" "$spec"; then
  py="$(jupyter_python -c 'import sys; print(sys.executable)')"
  "$tslab_bin" install --python="$py" --binary="$tslab_bin" --prefix="$prefix" >/dev/null
  echo "ensure-system: registered the tslab kernel in $prefix" >&2
fi
