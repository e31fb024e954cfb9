#!/usr/bin/env bash
# Builds the CUDA test drivers into native/build/ops_test/ (ignored):
#   ops_cuda_test        every CUDA op vs its CPU reference (native/test/ops_cuda_test.cu)
#   qwen3_cuda_test      CUDA Qwen3 text decoder vs CPU vs transformers on the tiny fixture
#   lifecycle_cuda_test  op workspaces are pool bytes; load -> run -> free x20 returns every byte
#   cosmos3_transformer_cuda_test  CUDA Cosmos 3 MoT transformer vs CPU vs diffusers on the cosmos3-tiny fixture
#   flow_sampler_cuda_test  the flow samplers / denoising loop on the GPU vs the CPU (bitwise) and diffusers' traces
#   qwen3_decode_bench   decode tokens/s at the Qwen3-VL-8B text shape (bench/qwen3_decode_bench.cu)
#   gemm_bench           the bf16 mma.sync GEMM vs the previous WMMA kernel (bench/gemm_bench.cu)
#   cosmos3_transformer_bench  one denoising step of the MoT transformer at the Nano shape (bench/cosmos3_transformer_bench.cu)
# Needs nvcc (CUDA 12.x/13) and g++; the programs run only where a GPU is (the device machine):
#   bash native/test/build_ops_test.sh && native/build/ops_test/ops_cuda_test
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../src"
out="${1:-$here/../build/ops_test}"
mkdir -p "$out/obj"
NVCC="${NVCC:-nvcc}"
NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA --expt-relaxed-constexpr -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
# The CPU references are built without COSMOS_CUDA: they need no CUDA header.
CXXFLAGS=(-std=c++17 -O2 -pthread)
common=()
pids=()
build() {  # build <compiler: nv|cxx> <file> -> appends the object to $common unless it is a driver
  local o="$out/obj/$(basename "$2").o" fl=("${NVFLAGS[@]}")
  # ops/*_wgmma.cu (wgmma, setmaxnreg) exist only as sm_90a machine code, as in native/CMakeLists.txt.
  [[ "$(basename "$2")" == *_wgmma.cu ]] && fl=(-std=c++17 -O3 -DCOSMOS_CUDA --expt-relaxed-constexpr -gencode arch=compute_90a,code=sm_90a)
  if [ "$1" = nv ]; then "$NVCC" "${fl[@]}" -c "$2" -o "$o" & else "${CXX:-g++}" "${CXXFLAGS[@]}" -c "$2" -o "$o" & fi
  pids+=($!)
}
for f in "$src"/ops/*.cu "$src"/layers/*.cu "$src"/core/cuda_*.cu "$src"/models/qwen3_text_cuda.cu "$src"/models/qwen3_decode_persistent.cu "$src"/models/qwen3_vision_cuda.cu \
         "$src"/models/cosmos3_transformer_cuda.cu "$src"/runtime/latent_device_cuda.cu \
         "$here/../../bench/matmul_wmma.cu"; do build nv "$f"; common+=("$out/obj/$(basename "$f").o"); done
for f in "$src"/ops/*_cpu.cc "$src"/layers/*.cc "$src"/core/{parallel,json,config,tensor,memory}.cc "$src"/safetensors/safetensors.cc "$src"/models/qwen3_text.cc \
         "$src"/models/qwen3_vision.cc "$src"/models/cosmos3_transformer.cc \
         "$src"/runtime/{flow_schedule,flow_sampler,denoise_loop}.cc; do
  build cxx "$f"; common+=("$out/obj/$(basename "$f").o")
done
drivers=("$here/ops_cuda_test.cu" "$here/flow_sampler_cuda_test.cu" "$here/qwen3_cuda_test.cu" "$here/lifecycle_cuda_test.cu" "$here/cosmos3_transformer_cuda_test.cu" "$here/../../bench/qwen3_decode_bench.cu"
         "$here/../../bench/gemm_bench.cu" "$here/../../bench/cosmos3_transformer_bench.cu")
for f in "${drivers[@]}"; do build nv "$f"; done
for p in "${pids[@]}"; do wait "$p"; done
for f in "${drivers[@]}"; do
  name="$(basename "$f" .cu)"
  "$NVCC" "${NVFLAGS[@]}" -o "$out/$name" "$out/obj/$name.cu.o" "${common[@]}" -lpthread
  echo "$out/$name"
done
