#!/usr/bin/env bash
# The whole test suite: system tools, a strict build, a type check of tests and scripts, then
# node's test runner over every test/**/*.test.ts (one file at a time: the machine has 2 cores
# and several tests start Jupyter or Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh test
# pytorch-grad-cam for the peer-correctness test (a no-op once made; ~30 s and ~440 MB the first
# time). Without it that one test skips and says why, so a machine without PyPI still runs the rest.
bash scripts/ensure-gradcam.sh || echo "test.sh: pytorch-grad-cam unavailable; test/explain/peer-pgc.test.ts will skip" >&2
npx tsc -p tsconfig.json
npx tsc -p tsconfig.test.json
mapfile -t files < <(find test -name '*.test.ts' | sort)
export TS_NODE_TRANSPILE_ONLY=true TS_NODE_PROJECT=tsconfig.test.json
exec node --require ts-node/register --test --test-concurrency=1 "${files[@]}"
