#!/usr/bin/env bash
# The whole test suite: system tools, a strict build, a type check of tests and scripts, then
# node's test runner over every test/**/*.test.ts (one file at a time: the machine has 2 cores
# and several tests start Jupyter or Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh test
npx tsc -p tsconfig.json
npx tsc -p tsconfig.test.json
mapfile -t files < <(find test -name '*.test.ts' | sort)
export TS_NODE_TRANSPILE_ONLY=true TS_NODE_PROJECT=tsconfig.test.json
exec node --require ts-node/register --test --test-concurrency=1 "${files[@]}"
