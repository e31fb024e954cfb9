#!/usr/bin/env bash
# Builds cosmos3_audio_cuda_test (the AVAE sound decoder on the GPU vs CPU vs diffusers, and its timing / memory at
# the shipped shape) into native/build/cosmos3_audio_cuda/ (or $1). Needs nvcc and g++; runs where a GPU is:
#   bash native/test/build_cosmos3_audio_cuda_test.sh && native/build/cosmos3_audio_cuda/cosmos3_audio_cuda_test "$PWD"
# JOBS (default 8) bounds the parallel compiles.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../src"
out="${1:-$here/../build/cosmos3_audio_cuda}"
source "$here/cuda_build_common.sh"
# Only what the decoder links (its ops, Linear and the weight binder), so the build stays short.
audio_ops=(conv1d conv_transpose1d snake_beta transpose2d matmul add fill_uniform)
for op in "${audio_ops[@]}"; do compile nv "$src/ops/$op.cu"; compile cxx "$src/ops/${op}_cpu.cc"; done
# ops/gemm_wgmma.cu: matmul.cu's Hopper path (built for sm_90 here, so it stays off and matmul uses mma.sync).
for f in "$src"/ops/gemm_wgmma.cu "$src"/layers/{linear,weights}.cu "$src"/core/cuda_pool.cu "$src"/models/cosmos3_audio_cuda.cu \
         "$here/cosmos3_audio_cuda_test.cu"; do
  compile nv "$f"
done
for f in "$src"/layers/{linear_cpu,weights}.cc "$src"/core/{parallel,json,config,tensor,memory}.cc \
         "$src"/safetensors/safetensors.cc "$src"/models/cosmos3_audio.cc; do
  compile cxx "$f"
done
wait
"$NVCC" "${NVFLAGS[@]}" -o "$out/cosmos3_audio_cuda_test" "${objs[@]}" -lpthread
echo "$out/cosmos3_audio_cuda_test"
