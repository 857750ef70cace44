#!/usr/bin/env bash
# Makes .venv-gradcam/: the real pytorch-grad-cam (grad-cam 1.5.7 from PyPI) for the benchmark's
# reference column and the peer-correctness test, in a project-local venv (never the user's Python).
#
# torch comes from Debian (python3-torch 1.13.1, python3-torchvision 0.14.1; CPU only) through
# --system-site-packages: pip sees torch>=1.7.1 satisfied and downloads no multi-GB CUDA wheel.
# numpy is held at Debian's version for the same reason (Debian's torch is built against numpy 1.x).
#
# Idempotent: a second run checks one stamp file and an import, and installs nothing.
# Quiet: prints one line when it installs, nothing when there is nothing to do.
# Exit 0 = ready; exit 1 = cannot be made here (a one-line reason on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-gradcam
req=scripts/python/gradcam-requirements.txt
py=/usr/bin/python3 # Debian's python: the pyenv python earlier on PATH has no torch.
timeout_s="${TSLAB_CAM_GRADCAM_TIMEOUT:-900}"
stamp="$venv/.ready-$(sha1sum "$req" | cut -c1-12)"

# The stamp is written only after pytorch_grad_cam imported once (a full import takes ~3 s).
ready() { [ -f "$stamp" ] && [ -x "$venv/bin/python" ]; }
have_torch() { [ -x "$py" ] && "$py" -c 'import torch, torchvision, ensurepip' >/dev/null 2>&1; }

ready && exit 0

# One installer at a time (the test suite and the benchmark may both ask).
mkdir -p "$venv.lock.d"
exec 9>"$venv.lock.d/lock"
flock -w "$timeout_s" 9 || { echo "ensure-gradcam: another install holds $venv.lock.d/lock" >&2; exit 1; }
ready && exit 0

start=$(date +%s)
if ! have_torch; then
  pkgs=(python3-torch python3-torchvision python3-venv)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-gradcam: installing ${pkgs[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    timeout "$timeout_s" apt-get update -qq >/dev/null
    timeout "$timeout_s" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  else
    echo "ensure-gradcam: Debian's CPU torch is missing. Fix: sudo apt-get install ${pkgs[*]}" >&2
    exit 1
  fi
fi

rm -rf "$venv"
"$py" -m venv --system-site-packages "$venv"
numpy_pin="$("$py" -c 'import numpy; print(numpy.__version__)')"
echo "ensure-gradcam: installing grad-cam 1.5.7 into $venv (torch from Debian, numpy $numpy_pin)" >&2
if ! timeout "$timeout_s" "$venv/bin/pip" install --quiet --disable-pip-version-check \
  --constraint <(echo "numpy==$numpy_pin") -r "$req" >"$venv/install.log" 2>&1; then
  echo "ensure-gradcam: pip failed; see $venv/install.log" >&2
  exit 1
fi
if ! "$venv/bin/python" -c 'import torch, pytorch_grad_cam' >>"$venv/install.log" 2>&1; then
  echo "ensure-gradcam: pytorch_grad_cam does not import; see $venv/install.log" >&2
  exit 1
fi
touch "$stamp"
echo "ensure-gradcam: ready in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
