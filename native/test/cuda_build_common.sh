# Sourced by build_cosmos3_audio_cuda_test.sh and build_wan_vae_cuda_test.sh (after they set $here, $src and $out):
# the nvcc / g++ flags and compile(), which starts one object build in the background and collects it in objs.
# JOBS (default 8) bounds the parallel compiles; NVCC and CXX pick the compilers.
mkdir -p "$out/obj"
NVCC="${NVCC:-nvcc}"
NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
CXXFLAGS=(-std=c++17 -O2 -pthread)
objs=()
compile() {  # compile <nv|cxx> <file>: rebuilt only when the source (or any header under src/) is newer
  local o="$out/obj/$(basename "$2").o"
  objs+=("$o")
  if [ -f "$o" ] && [ "$o" -nt "$2" ] && [ -z "$(find "$src" -name '*.h' -newer "$o" -print -quit)" ]; then return; fi
  while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-8}" ]; do sleep 0.2; done
  if [ "$1" = nv ]; then "$NVCC" "${NVFLAGS[@]}" -c "$2" -o "$o" & else "${CXX:-g++}" "${CXXFLAGS[@]}" -c "$2" -o "$o" & fi
}
