#!/usr/bin/env bash
# Builds bench/qwen3vl_prefill_bench.cu (vision tower + multimodal prefill at Qwen3-VL-8B shapes) into
# native/build/ops_test/ (ignored) or the folder given as $1. Needs nvcc + g++; runs only on a GPU:
#   bash bench/build_qwen3vl_prefill_bench.sh && native/build/ops_test/qwen3vl_prefill_bench
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/native/src"
out="${1:-$root/native/build/ops_test}"
mkdir -p "$out/obj_vlbench"
NVCC="${NVCC:-nvcc}"
NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
CXXFLAGS=(-std=c++17 -O2 -pthread)
objs=()
pids=()
for f in "$src"/ops/*.cu "$src"/layers/*.cu "$src"/core/cuda_*.cu "$src"/models/qwen3_text_cuda.cu "$src"/models/qwen3_decode_persistent.cu "$src"/models/qwen3_vision_cuda.cu \
         "$root/bench/qwen3vl_prefill_bench.cu"; do
  o="$out/obj_vlbench/$(basename "$f").o"; objs+=("$o")
  "$NVCC" "${NVFLAGS[@]}" -c "$f" -o "$o" & pids+=($!)
done
for f in "$src"/ops/*_cpu.cc "$src"/layers/*.cc "$src"/core/{parallel,json,config,tensor,memory}.cc "$src"/safetensors/safetensors.cc \
         "$src"/models/qwen3_text.cc "$src"/models/qwen3_vision.cc; do
  o="$out/obj_vlbench/$(basename "$f").o"; objs+=("$o")
  "${CXX:-g++}" "${CXXFLAGS[@]}" -c "$f" -o "$o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$NVCC" "${NVFLAGS[@]}" -o "$out/qwen3vl_prefill_bench" "${objs[@]}" -lpthread
echo "$out/qwen3vl_prefill_bench"
