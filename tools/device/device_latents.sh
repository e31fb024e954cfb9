#!/usr/bin/env bash
# Latents on the GPU from the noise to the VAE (issue 12 item 4), checked in one short device call:
#   device_latents_cuda_test   the twins' device entry points == their host ones (bitwise) on the cosmos3-tiny
#                              fixture, CudaLatentDevice == CpuLatentDevice, a 3-step CFG denoise + VAE / AVAE
#                              decode with every latent on the GPU == the host path (bitwise) and ~ CPU, pool bytes
#                              back at the baseline
#   flow_sampler_cuda_test     the samplers and the loop over CudaLatentDevice vs CPU (bitwise) and diffusers' traces
#   cosmos3_transformer_cuda_test, wan_vae_cuda_test --no-bench, cosmos3_audio_cuda_test --no-bench
#                              the host entry points (now wrappers over the device ones) vs diffusers, as before
#   ops_cuda_test              every CUDA op vs its CPU twin (the new transpose2d rows among them)
#
#   here:   bash tools/device/device_latents.sh prepare
#           compiles (nvcc sm_90, g++; 2 jobs, nice) the engine sources and the drivers of the committed HEAD
#           (git archive into native/build/devlat/snap: others' uncommitted edits stay out) into
#           native/build/devlat/obj, incrementally (a source is rebuilt when it or a header it includes changed; an
#           object of the addon's CUDA build is reused when it was built from HEAD's text), and links the six
#           programs into .dev/devlat_bin (stripped). Nothing is built on the device.
#   `run`, kind nvidia-h200, timeout_s 300, carry [".dev/devlat_bin"]:
#           bash tools/device/device_latents.sh device
# Results under $OUT/devlat.log; stdout ends with a PASS / FAIL line per program.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  b=native/build/devlat
  snap=$b/snap
  mkdir -p "$b/obj" "$snap"
  rm -rf "$b/bin" && mkdir -p "$b/bin"  # linked here, then swapped in whole for .dev/devlat_bin
  # A fresh HEAD snapshot, copied over the previous one only where the content changed (unchanged files keep
  # their times, so the dependency check below sees only real changes).
  rm -rf "$b/head" && mkdir -p "$b/head"
  git archive HEAD native/src native/test | tar -x -C "$b/head"
  (cd "$b/head" && find . -type f) | while read -r f; do
    cmp -s "$b/head/$f" "$snap/$f" || { mkdir -p "$(dirname "$snap/$f")" && cp "$b/head/$f" "$snap/$f"; }
  done
  git rev-parse --short HEAD > "$b/bin/COMMIT"
  s=$snap/native/src
  t=$snap/native/test
  NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA --expt-relaxed-constexpr -gencode arch=compute_90,code=sm_90 -MMD)
  cuda_inc=$(dirname "$(ls "${CUDA_HOME:-/usr/local/cuda}"/include/cuda_runtime.h /usr/local/cuda*/include/cuda_runtime.h 2> /dev/null | head -1)")
  CXXFLAGS=(-std=c++17 -O2 -pthread -DCOSMOS_CUDA -isystem "$cuda_inc" -MMD)
  engine=("$s"/ops/*.cu "$s"/ops/*_cpu.cc "$s"/layers/*.cu "$s"/layers/*.cc "$s"/core/cuda_*.cu
    "$s"/core/{parallel,json,config,tensor,memory}.cc "$s"/safetensors/safetensors.cc
    "$s"/models/{cosmos3_transformer,wan_vae,cosmos3_audio}.cc "$s"/models/{cosmos3_transformer,wan_vae,cosmos3_audio}_cuda.cu
    "$s"/runtime/{flow_schedule,flow_sampler,denoise_loop}.cc "$s"/runtime/latent_device_cuda.cu)
  drivers=(device_latents_cuda_test flow_sampler_cuda_test cosmos3_transformer_cuda_test wan_vae_cuda_test
    cosmos3_audio_cuda_test ops_cuda_test)
  stale() {  # stale <source> <object>: no object, or the source or a header listed in its .d is newer
    [ -f "$2" ] || return 0
    [ "$1" -nt "$2" ] && return 0
    [ -f "${2%.o}.d" ] || return 0
    local dep
    for dep in $(sed -e 's/\\$//' -e 's/^[^:]*://' "${2%.o}.d"); do [ "$dep" -nt "$2" ] && return 0; done
    return 1
  }
  # An engine object of the addon's CUDA build (native/build/cmake-cuda, same flags) is linked as it is when the
  # source and every project header it was built from are older than it and unchanged since HEAD: it was then
  # built from HEAD's text. Everything else is compiled here from the snapshot.
  cm=native/build/cmake-cuda
  dirty=" $( { git diff --name-only HEAD; git ls-files --others --exclude-standard native/src; } | tr '\n' ' ') "
  reusable() {  # reusable <path under native/>: prints the addon's object when it can be linked as is
    local o="$cm/CMakeFiles/cosmos_native.dir/$1.o" dep
    [ -f "$o" ] && command -v ninja > /dev/null || return 1
    for dep in $(ninja -C "$cm" -t deps "CMakeFiles/cosmos_native.dir/$1.o" 2> /dev/null | grep "$PWD/native/src/"); do
      [ "$dep" -nt "$o" ] && return 1
      case "$dirty" in *" ${dep#"$PWD"/} "*) return 1 ;; esac
    done
    [ -n "$dep" ] && echo "$o"
  }
  objs=()
  pids=()
  reused=0
  for f in "${engine[@]}" "${drivers[@]/#/$t/}"; do
    [ -f "$f" ] || f="$f.cu"
    rel=${f#"$snap"/native/}
    o="$b/obj/${rel//\//_}.o"
    case "$f" in
    *_test.cu) ;;
    *)
      if stale "$f" "$o" && ao=$(reusable "$rel"); then
        objs+=("$ao")
        reused=$((reused + 1))
        continue
      fi
      objs+=("$o") ;;
    esac
    stale "$f" "$o" || continue
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 1; done
    echo "compile $rel"
    case "$f" in
    *.cu) nice -n 10 nvcc "${NVFLAGS[@]}" -MF "${o%.o}.d" -c "$f" -o "$o" & ;;
    *) nice -n 10 g++ "${CXXFLAGS[@]}" -MF "${o%.o}.d" -c "$f" -o "$o" & ;;
    esac
    pids+=($!)
  done
  echo "linked from the addon's build: $reused objects"
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || { echo "a source failed to compile" >&2; exit 1; }
  for d in "${drivers[@]}"; do
    nice -n 10 nvcc -std=c++17 -gencode arch=compute_90,code=sm_90 -o "$b/bin/$d" \
      "$b/obj/test_$d.cu.o" "${objs[@]}" -lpthread && strip "$b/bin/$d" ||
      { echo "link failed: $d" >&2; exit 1; }
  done
  rm -rf .dev/devlat_bin.old && mkdir -p .dev && { [ ! -d .dev/devlat_bin ] || mv .dev/devlat_bin .dev/devlat_bin.old; } &&
    mv "$b/bin" .dev/devlat_bin && rm -rf .dev/devlat_bin.old
  du -sh .dev/devlat_bin ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  out=${OUT:-/tmp/device_latents}
  mkdir -p "$out"
  log="$out/devlat.log"
  bin=.dev/devlat_bin
  echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader); binaries of $(cat $bin/COMMIT)" | tee "$log"
  results=()
  step() {  # step <limit s> <program> <args...>
    local limit=$1 name=$2 t0=$SECONDS
    shift
    echo "=== $*" >> "$log"
    timeout "$limit" "$bin/$@" >> "$log" 2>&1
    local rc=$?
    results+=("$(printf '%-32s %s (rc=%d, %d s)' "$name" "$([ $rc = 0 ] && echo PASS || echo FAIL)" $rc $((SECONDS - t0)))")
  }
  step 90 device_latents_cuda_test .
  step 60 flow_sampler_cuda_test .
  step 60 cosmos3_transformer_cuda_test .
  step 60 wan_vae_cuda_test . --no-bench
  step 60 cosmos3_audio_cuda_test . --no-bench
  step 180 ops_cuda_test
  echo "--- failing rows"
  grep -E "FAIL|exception" "$log" | grep -v "^FAIL: 0" | head -40
  echo "--- device_latents_cuda_test: GPU-resident runs and pools"
  grep -E "^\| .*(GPU-resident vs cpu|baseline)" "$log" | head -30
  grep -E "^\| transpose" "$log"
  echo "--- summary"
  printf '%s\n' "${results[@]}" | tee -a "$log" ;;
*) echo "usage: device_latents.sh prepare | device" >&2; exit 2 ;;
esac
