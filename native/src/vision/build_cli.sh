#!/usr/bin/env bash
# Builds the vision tower's test driver (CPU) into native/build/vision/vision_cli (ignored): the
# engine's tower (native/src/models/qwen3_vision.cc) on the shared CPU ops (native/src/ops).
# Used by test/native/vision.test.ts to compare the tower alone against transformers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
out="${1:-$here/../../build/vision}"
mkdir -p "$out"
ops=(matmul layernorm gelu rope attention add)
"${CXX:-g++}" -std=c++17 -O2 -Wall -Wextra -pthread -o "$out/vision_cli" \
  "$here/vision_cli.cpp" "$src/models/qwen3_vision.cc" "$src/core/parallel.cc" \
  $(printf "$src/ops/%s_cpu.cc " "${ops[@]}")
echo "$out/vision_cli"
