#!/usr/bin/env bash
# Builds native/test/ops_cuda_test (CUDA ops vs CPU references) into native/build/ops_test/ (ignored).
# Needs nvcc (CUDA 12.x/13) and g++; runs only where a GPU is (the device machine). Usage:
#   bash native/test/build_ops_test.sh && native/build/ops_test/ops_cuda_test
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../src"
out="${1:-$here/../build/ops_test}"
mkdir -p "$out/obj"
NVCC="${NVCC:-nvcc}"

NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
# The CPU references are built without COSMOS_CUDA: they need no CUDA header.
CXXFLAGS=(-std=c++17 -O2 -pthread)
objs=()
pids=()
# The CUDA twins + CUDA core helpers, and the CPU references they are checked against.
for f in "$src"/ops/*.cu "$src"/core/cuda_*.cu "$here/ops_cuda_test.cu"; do
  o="$out/obj/$(basename "$f").o"; objs+=("$o")
  "$NVCC" "${NVFLAGS[@]}" -c "$f" -o "$o" & pids+=($!)
done
for f in "$src"/ops/*_cpu.cc "$src"/core/parallel.cc; do
  o="$out/obj/$(basename "$f").o"; objs+=("$o")
  "${CXX:-g++}" "${CXXFLAGS[@]}" -c "$f" -o "$o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$NVCC" "${NVFLAGS[@]}" -o "$out/ops_cuda_test" "${objs[@]}" -lpthread
echo "$out/ops_cuda_test"
