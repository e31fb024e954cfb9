# Sourced by the CUDA test builds (build_cosmos3_audio_cuda_test.sh, build_wan_vae_cuda_test.sh,
# build_shared_weights_cuda_test.sh) and tools/device/{wgmma,fp8}_check.sh, after they set $here, $src and $out:
# the nvcc / g++ flags and compile(), which starts one object build in the background and collects it in objs.
# JOBS (default 8) bounds the parallel compiles; NVCC and CXX pick the compilers.
mkdir -p "$out/obj"
NVCC="${NVCC:-nvcc}"
NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
# wgmma, setmaxnreg and the fp8 MMA exist only in sm_90a code; a binary that links such objects names both arches.
NVFLAGS_90A=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90a,code=sm_90a)
CXXFLAGS=(-std=c++17 -O2 -pthread)
objs=()
compile_pids=()
compile() {  # compile <nv|nv90a|cxx> <file>: rebuilt only when the source (or any header under src/) is newer
  # nv90a also writes ptxas's report (registers, spills, shared memory) to <object>.ptxas.
  local o="$out/obj/$(basename "$2").o"
  objs+=("$o")
  if [ -f "$o" ] && [ "$o" -nt "$2" ] &&
    [ -z "$(find "$src" \( -name '*.h' -o -name '*.cuh' \) -newer "$o" -print -quit)" ]; then return; fi
  while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-8}" ]; do sleep 0.2; done
  case "$1" in
    nv) "$NVCC" "${NVFLAGS[@]}" -c "$2" -o "$o" & ;;
    nv90a) "$NVCC" "${NVFLAGS_90A[@]}" -Xptxas -v -c "$2" -o "$o" 2> "$o.ptxas" & ;;
    *) "${CXX:-g++}" "${CXXFLAGS[@]}" -c "$2" -o "$o" & ;;
  esac
  compile_pids+=($!)
}
# Waits for every compile started; false when one failed (its object is then missing or stale).
wait_compiles() {
  local p rc=0
  for p in "${compile_pids[@]}"; do wait "$p" || rc=1; done
  compile_pids=()
  for p in "${objs[@]}"; do [ -f "$p" ] || rc=1; done
  return $rc
}
