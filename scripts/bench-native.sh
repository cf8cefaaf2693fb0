#!/usr/bin/env bash
# Builds the native fan-in load generator (bench/native/loadgen.rs, standard
# library only) with rustc: `npm run bench -- --loadgen native` uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rustc >/dev/null || { echo "bench-native: rustc not found (apt-get install rustc, or rustup)" >&2; exit 1; }
rustc -O --edition 2021 -o bench/native/loadgen bench/native/loadgen.rs
echo "bench-native: built bench/native/loadgen"
