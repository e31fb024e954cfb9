#!/usr/bin/env bash
# Builds the vision tower's test driver (CPU) into native/build/vision/vision_cli (ignored).
# Used by test/native/vision*.test.ts until the tower is part of the addon's CMake build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../build/vision}"
mkdir -p "$out"
"${CXX:-g++}" -std=c++17 -O2 -fopenmp -Wall -Wextra -o "$out/vision_cli" \
  "$here/vision_cli.cpp" "$here/vision_encoder.cpp" "$here/vision_ops_cpu.cpp" "$here/vision_pos.cpp"
echo "$out/vision_cli"
