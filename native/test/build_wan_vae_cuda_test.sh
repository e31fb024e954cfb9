#!/usr/bin/env bash
# Builds wan_vae_cuda_test (the Wan2.2 VAE on the GPU vs CPU vs diffusers, and its timing / memory at the real
# shape) into native/build/wan_vae_cuda/ (or $1). Needs nvcc and g++; runs where a GPU is:
#   bash native/test/build_wan_vae_cuda_test.sh && native/build/wan_vae_cuda/wan_vae_cuda_test "$PWD"
# JOBS (default 8) bounds the parallel compiles.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../src"
out="${1:-$here/../build/wan_vae_cuda}"
source "$here/cuda_build_common.sh"
# Only what the VAE links (the ops it calls, Linear and the weight binder), so the build stays short.
vae_ops=(conv3d conv3d_igemm cast_bf16 matmul attention_gemm attention wan_rmsnorm upsample_nearest pixel_patchify avg_down dup_up wan_latent_norm add
         fill_uniform)
for op in "${vae_ops[@]}"; do compile nv "$src/ops/$op.cu"; compile cxx "$src/ops/${op}_cpu.cc"; done
# ops/*_wgmma.cu: matmul.cu's and conv3d_igemm.cu's Hopper paths (built for sm_90 here, so they stay off and the
# mma.sync kernels run).
for f in "$src"/ops/gemm_wgmma.cu "$src"/ops/conv3d_igemm_wgmma.cu "$src"/layers/{linear,weights}.cu "$src"/core/cuda_pool.cu "$src"/models/wan_vae_cuda.cu \
         "$here/wan_vae_cuda_test.cu"; do
  compile nv "$f"
done
for f in "$src"/layers/{linear_cpu,weights}.cc "$src"/core/{parallel,json,config,tensor,memory}.cc \
         "$src"/safetensors/safetensors.cc "$src"/models/wan_vae.cc; do
  compile cxx "$f"
done
wait
"$NVCC" "${NVFLAGS[@]}" -o "$out/wan_vae_cuda_test" "${objs[@]}" -lpthread
echo "$out/wan_vae_cuda_test"
