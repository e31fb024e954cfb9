#!/usr/bin/env bash
# Builds the vision tower's test driver (CPU) into native/build/vision/vision_cli (ignored): the
# engine's tower (native/src/models/qwen3_vision.cc) on the shared CPU ops (native/src/ops) and the
# engine's safetensors loader. Used by test/native/vision.test.ts to test the tower alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/.." && pwd)"
out="${1:-$src/../build/vision}"
mkdir -p "$out"
files=("$here/vision_cli.cpp" "$src/models/qwen3_vision.cc")
for f in core/parallel core/json core/tensor core/memory safetensors/safetensors ops/matmul_cpu ops/layernorm_cpu \
         ops/gelu_cpu ops/rope_cpu ops/attention_cpu ops/add_cpu; do
  files+=("$src/$f.cc")
done
"${CXX:-g++}" -std=c++17 -O2 -Wall -Wextra -pthread -o "$out/vision_cli" "${files[@]}"
echo "$out/vision_cli"
