#!/usr/bin/env bash
# Builds shared_weights_cuda_test (the Generator's transformer and the Reasoner's decoder on the GPU sharing the
# und tower's blocks, layers/weights.h) into native/build/shared_weights_cuda/ (or $1). Needs nvcc and g++; runs
# where a GPU is:
#   bash native/test/build_shared_weights_cuda_test.sh && native/build/shared_weights_cuda/shared_weights_cuda_test "$PWD"
# JOBS (default 8) bounds the parallel compiles.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../src"
out="${1:-$here/../build/shared_weights_cuda}"
source "$here/cuda_build_common.sh"
# Both models call most ops: every op (CUDA and CPU twin), the layers, the two models and their CPU twins.
for f in "$src"/ops/*.cu "$src"/layers/*.cu "$src"/core/cuda_pool.cu "$src"/models/{qwen3_text,cosmos3_transformer}_cuda.cu \
         "$here/shared_weights_cuda_test.cu"; do
  compile nv "$f"
done
for f in "$src"/ops/*_cpu.cc "$src"/layers/*.cc "$src"/core/{parallel,json,config,tensor,memory}.cc \
         "$src"/safetensors/safetensors.cc "$src"/models/{qwen3_text,cosmos3_transformer}.cc; do
  compile cxx "$f"
done
wait
"$NVCC" "${NVFLAGS[@]}" -o "$out/shared_weights_cuda_test" "${objs[@]}" -lpthread
echo "$out/shared_weights_cuda_test"
