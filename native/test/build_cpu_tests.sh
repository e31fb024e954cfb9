#!/usr/bin/env bash
# Builds the CPU test binaries (no Node needed) into native/build/cpu_tests/ (or $1):
#   safetensors_fuzz  seeded mutation fuzz of the safetensors header parser
#   ops_cpu_test      CPU ops against direct (unblocked, single-thread) formulas
#   layers_cpu_test   the shared layers (attention block: KV cache, segments, extra K/V; MLPs; weight
#                     binding) against direct double-precision computations
#   runtime_cpu_test  the token loop (native/src/runtime) on the CPU decoder with the tiny fixture
#   flow_sampler_cpu_test  the flow-matching schedules, samplers and denoising loop (native/src/runtime)
#   cosmos3_generator_cpu_test  the Cosmos 3 Generator engine: fill_normal, and the fixture t2v and t2v-with-sound
#                     runs end to end (step latents, final latents, decoded video and wave vs diffusers; abort; errors)
#   cosmos3_audio_cpu_test  the Cosmos 3 AVAE sound decoder vs diffusers on the tiny fixture, config errors
#   wan_vae_cpu_test  the Wan2.2 VAE (encode, decode, chunking) vs diffusers on the tiny fixture
#   cosmos3_transformer_cpu_test  the Cosmos 3 MoT transformer: its ops vs direct formulas, text cache vs
#                     joint forward, and diffusers' outputs on the tiny fixture when present
# ASAN=1 builds them with -fsanitize=address,undefined into native/build/cpu_tests_asan/.
# Rebuilds only what changed (see below). Prints the output folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../src"
flags=(-std=c++17 -O2 -Wall -pthread)
out="${1:-$here/../build/cpu_tests}"
if [ "${ASAN:-0}" = 1 ]; then
  flags=(-std=c++17 -O1 -g -Wall -pthread -fsanitize=address,undefined -fno-omit-frame-pointer)
  out="${1:-$here/../build/cpu_tests_asan}"
fi
mkdir -p "$out/obj"
failed="$out/.failed"  # what did not compile or link (background jobs append to it)
rm -f "$failed"
# Each source is compiled once into $out/obj (the test programs share most of them: compiling ops/*_cpu.cc
# once instead of once per program is what keeps this fast on a 2-core machine), then each program is
# linked. An object is rebuilt when its source, or any header under native/src or native/test, is newer.
jobs_max="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
newest_header=$(find "$src" "$here" -name '*.h' -printf '%T@\n' | sort -n | tail -1)
newest_header=${newest_header%.*}
declare -A compiled=()
object_of() { local rel="${1#"$here"/../}"; rel="${rel#"$here"/}"; echo "$out/obj/${rel//\//_}.o"; }
compile() {  # sources...: their objects, built in the background (at most jobs_max at a time)
  local s o
  for s in "$@"; do
    o=$(object_of "$s")
    [ -n "${compiled[$o]:-}" ] && continue
    compiled[$o]=1
    if [ -f "$o" ] && [ "$o" -nt "$s" ] && [ "$(stat -c %Y "$o")" -gt "$newest_header" ]; then continue; fi
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do sleep 0.1; done
    ( ("${CXX:-g++}" "${flags[@]}" -c "$s" -o "$o.tmp" && mv -f "$o.tmp" "$o") || echo "compile $s" >>"$failed") &
  done
}
declare -A programs=()
build() {  # name, sources...: compiles what it needs now, links after every object is there
  local name=$1; shift
  compile "$@"
  programs[$name]="$*"
}
build safetensors_fuzz "$here/safetensors_fuzz.cc" "$src/safetensors/safetensors.cc" "$src/core/json.cc" \
  "$src/core/tensor.cc" "$src/core/memory.cc"
build ops_cpu_test "$here/ops_cpu_test.cc" "$src"/ops/*_cpu.cc "$src/core/parallel.cc"
build layers_cpu_test "$here/layers_cpu_test.cc" "$src"/layers/*.cc "$src"/ops/*_cpu.cc "$src/core/parallel.cc" \
  "$src/safetensors/safetensors.cc" "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc"
build runtime_cpu_test "$here/runtime_cpu_test.cc" "$src"/runtime/*.cc "$src"/models/qwen3_text.cc "$src"/layers/*.cc \
  "$src"/ops/*_cpu.cc "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" \
  "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc"
build cosmos3_transformer_cpu_test "$here/cosmos3_transformer_cpu_test.cc" "$src"/models/cosmos3_transformer.cc \
  "$src"/layers/*.cc "$src"/ops/*_cpu.cc "$src/core/parallel.cc" "$src/core/config.cc" \
  "$src/safetensors/safetensors.cc" "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc"
build wan_vae_cpu_test "$here/wan_vae_cpu_test.cc" "$src"/models/wan_vae.cc "$src"/layers/*.cc "$src"/ops/*_cpu.cc \
  "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" "$src/core/json.cc" \
  "$src/core/tensor.cc" "$src/core/memory.cc"
build flow_sampler_cpu_test "$here/flow_sampler_cpu_test.cc" "$src"/runtime/flow_schedule.cc "$src"/runtime/flow_sampler.cc \
  "$src"/runtime/denoise_loop.cc "$src"/ops/lincomb_cpu.cc "$src"/ops/set_rows_cpu.cc "$src"/ops/fill_normal_cpu.cc \
  "$src/core/config.cc" "$src/core/json.cc" "$src/safetensors/safetensors.cc" "$src/core/tensor.cc" "$src/core/memory.cc"
build cosmos3_generator_cpu_test "$here/cosmos3_generator_cpu_test.cc" "$src"/models/cosmos3_generator.cc \
  "$src"/models/cosmos3_transformer.cc "$src"/models/wan_vae.cc "$src"/models/cosmos3_audio.cc \
  "$src"/runtime/flow_schedule.cc \
  "$src"/runtime/flow_sampler.cc "$src"/runtime/denoise_loop.cc "$src"/layers/*.cc "$src"/ops/*_cpu.cc \
  "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" "$src/core/json.cc" \
  "$src/core/tensor.cc" "$src/core/memory.cc"
build cosmos3_audio_cpu_test "$here/cosmos3_audio_cpu_test.cc" "$src"/models/cosmos3_audio.cc "$src"/layers/*.cc \
  "$src"/ops/*_cpu.cc "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" \
  "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc"
# A bare `wait` (every background job): `wait PID` can fail with "not a child of this shell" once bash has
# reaped a job that `jobs -rp` saw finish, and under set -e that stopped the build on a busy machine.
wait
if [ -f "$failed" ]; then cat "$failed" >&2; exit 1; fi
link() {  # name, sources...: links when the program is missing or older than one of its objects
  local name=$1; shift
  local objs=() s stale=0
  for s in "$@"; do objs+=("$(object_of "$s")"); done
  [ -x "$out/$name" ] || stale=1
  for s in "${objs[@]}"; do [ "$s" -nt "$out/$name" ] && stale=1; done
  if [ $stale = 1 ]; then
    ("${CXX:-g++}" "${flags[@]}" -o "$out/$name.tmp" "${objs[@]}" && mv -f "$out/$name.tmp" "$out/$name") ||
      echo "link $name" >>"$failed"
  fi
}
for name in "${!programs[@]}"; do
  # shellcheck disable=SC2086
  link "$name" ${programs[$name]} &
done
wait
if [ -f "$failed" ]; then cat "$failed" >&2; exit 1; fi
echo "$out"
