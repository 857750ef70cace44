#!/usr/bin/env bash
# Makes sure what one command needs is present, and registers the tslab kernel for this project
# only (under .jupyter-local, never in the user's Jupyter). Never touches the user's Python.
#
#   ensure-system.sh start       npm start: JupyterLab 4 + Notebook 7 + plotly in a project venv
#                                (.jupyter-local/venv, from PyPI); Debian's classic Notebook if that
#                                venv cannot be built. No browser.
#   ensure-system.sh notebooks   npm run notebooks: Debian's Jupyter (nbconvert, nbclient).
#   ensure-system.sh test        npm test (the default): Debian's Jupyter (classic Notebook tests,
#                                nbconvert), the venv (JupyterLab 4 / Notebook 7 tests), Chromium.
#   --system-only                everything but the kernel registration (before npm install: CI).
#   --wait-for-apt               only wait for the dpkg/apt locks (the wait below), then exit.
#
# Idempotent: a second run installs nothing (the venv keeps a stamp of the requirements it holds).
# Debian packages come from apt-get when run as root; apt-get waits for the dpkg lock (another apt,
# unattended-upgrades on a fresh boot) up to TSLAB_CAM_APT_WAIT seconds (default 900), printing the
# wait. Where it cannot install, it prints the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

target=test
system_only=0
for arg in "$@"; do
  case "$arg" in
    start | notebooks | test) target="$arg" ;;
    --system-only) system_only=1 ;;
    --wait-for-apt) target=wait-for-apt ;;
    *) echo "ensure-system: unknown argument '$arg' (use start, notebooks, test, --system-only)" >&2; exit 2 ;;
  esac
done

say() { echo "ensure-system: $*" >&2; }

venv="$PWD/.jupyter-local/venv"
requirements="$PWD/scripts/jupyter-requirements.txt"
stamp="$venv/.tslab-cam-requirements"

# --- the dpkg/apt lock -------------------------------------------------------------------------
# apt and dpkg lock with fcntl (POSIX) record locks, which flock(1) neither sees nor takes, so the
# probe takes the same kind of lock (and drops it at once) and names the holder from F_GETLK.
apt_locks=(${TSLAB_CAM_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock})
apt_wait="${TSLAB_CAM_APT_WAIT:-900}"
probe_python() { if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3 || true; fi; }

# Prints "PATH PID NAME" for the first held lock, nothing when all are free.
apt_lock_holder() {
  local py
  py="$(probe_python)"
  [ -n "$py" ] || return 0
  "$py" - "${apt_locks[@]}" <<'PY'
import fcntl, os, struct, sys
for path in sys.argv[1:]:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        continue  # absent, or not ours to lock (not root): apt-get will say so itself
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pid = 0
        try:  # struct flock on Linux: type, whence, start, len, pid
            got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
            pid = struct.unpack("hhqqi", got)[4]
        except OSError:
            pass
        try:
            name = open("/proc/%d/comm" % pid).read().strip() if pid > 0 else "?"
        except OSError:
            name = "?"
        print(path, pid, name)
        break
    finally:
        os.close(fd)  # closing drops the probe's own lock at once
PY
}

# Waits (bounded) until no apt/dpkg lock is held; prints who holds it and how long it waited.
wait_for_apt() {
  local holder waited=0
  holder="$(apt_lock_holder)"
  [ -n "$holder" ] || return 0
  set -- $holder
  say "waiting for the apt/dpkg lock $1, held by process $2 ($3); up to ${apt_wait} s (TSLAB_CAM_APT_WAIT)"
  while [ -n "$holder" ]; do
    if [ "$waited" -ge "$apt_wait" ]; then
      say "the apt/dpkg lock $1 is still held by process $2 ($3) after ${waited} s."
      say "Fix: let that apt run finish (or stop it), then run this command again; or wait longer with TSLAB_CAM_APT_WAIT=SECONDS."
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
    [ $((waited % 15)) = 0 ] && say "still waiting for the apt/dpkg lock (${waited} s)"
    holder="$(apt_lock_holder)"
  done
  say "the apt/dpkg lock is free after waiting ${waited} s"
}

if [ "$target" = wait-for-apt ]; then
  wait_for_apt
  exit $?
fi

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing $*."
    say "Fix: install them, e.g. on Debian/Ubuntu: sudo apt-get install $*; then run this command again."
    return 1
  fi
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # Explicit returns: callers use `apt_install … ||`, where bash ignores set -e inside the function.
  # apt's own lock timeout covers a lock taken between the wait and apt-get.
  wait_for_apt || return 1
  apt-get -o DPkg::Lock::Timeout="$apt_wait" update -qq >/dev/null || return 1
  wait_for_apt || return 1
  apt-get -o DPkg::Lock::Timeout="$apt_wait" install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- what is there -----------------------------------------------------------------------------
# Debian's Jupyter lives in the system python; a pyenv python earlier on PATH lacks it.
have_debian_jupyter() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import nbclient, nbconvert, notebook' >/dev/null 2>&1; }
have_browser() { command -v chromium >/dev/null 2>&1; }
venv_ready() { [ -x "$venv/bin/jupyter-lab" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sha256sum <"$requirements")" ]; }
# The python the venv is made from: Debian's (python3-venv), else any python3 with venv + ensurepip.
venv_base() {
  local py
  for py in /usr/bin/python3 "$(command -v python3 || true)"; do
    [ -n "$py" ] && [ -x "$py" ] && "$py" -c 'import venv, ensurepip' >/dev/null 2>&1 && { echo "$py"; return 0; }
  done
  return 1
}

build_venv() {
  venv_ready && return 0
  local base log="$PWD/.jupyter-local/pip.log" start
  if ! base="$(venv_base)"; then
    apt_install python3-venv || return 1
    base="$(venv_base)" || return 1
  fi
  mkdir -p "$PWD/.jupyter-local"
  say "installing JupyterLab 4, Notebook 7 and plotly from PyPI into .jupyter-local/venv (about 340 MB; log: .jupyter-local/pip.log)"
  start=$(date +%s)
  rm -rf "$venv"
  if "$base" -m venv "$venv" >"$log" 2>&1 && "$venv/bin/python" -m pip install --quiet -r "$requirements" >>"$log" 2>&1; then
    sha256sum <"$requirements" >"$stamp"
    say "the project venv is ready ($(($(date +%s) - start)) s, $(du -sm "$venv" | cut -f1) MB)"
  else
    say "could not build .jupyter-local/venv (is PyPI reachable?); the last lines of .jupyter-local/pip.log:"
    tail -n 5 "$log" >&2 || true
    rm -rf "$venv"
    return 1
  fi
}

# --- per command -------------------------------------------------------------------------------
apt_missing=()
case "$target" in
  start)
    venv_base >/dev/null || apt_missing+=(python3-venv)
    ;;
  notebooks)
    have_debian_jupyter || venv_ready || apt_missing+=(jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client)
    ;;
  test)
    have_debian_jupyter || apt_missing+=(jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client)
    have_browser || apt_missing+=(chromium)
    venv_ready || venv_base >/dev/null || apt_missing+=(python3-venv)
    ;;
esac
if [ ${#apt_missing[@]} -gt 0 ]; then
  # start can still fall back to a Notebook that is already there; test and notebooks cannot.
  apt_install "${apt_missing[@]}" || [ "$target" = start ]
fi

case "$target" in
  start)
    if ! build_venv; then
      have_debian_jupyter || apt_install jupyter-notebook jupyter-client
      say "npm start falls back to Debian's classic Notebook."
    fi
    ;;
  test)
    build_venv || say "without .jupyter-local/venv the JupyterLab 4 and Notebook 7 browser tests are skipped (they fail under CI)."
    ;;
esac

[ "$system_only" = 1 ] && exit 0

# --- the tslab kernel, for this project only ---------------------------------------------------
prefix="$PWD/.jupyter-local"
spec="$prefix/share/jupyter/kernels/tslab/kernel.json"
tslab_bin="$PWD/node_modules/.bin/tslab"
if [ ! -x "$tslab_bin" ]; then
  say "$tslab_bin is missing; run npm install first."
  exit 1
fi
if [ ! -f "$spec" ] || ! grep -q "$tslab_bin" "$spec"; then
  # tslab's installer needs jupyter_client and IPython: Debian's python has them with its Jupyter, the venv has them too.
  if have_debian_jupyter; then py=/usr/bin/python3; else py="$venv/bin/python"; fi
  "$tslab_bin" install --python="$py" --binary="$tslab_bin" --prefix="$prefix" >/dev/null
  say "registered the tslab kernel in $prefix"
fi
