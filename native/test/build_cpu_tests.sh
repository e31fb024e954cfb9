#!/usr/bin/env bash
# Builds the CPU test binaries (no Node needed) into native/build/cpu_tests/ (or $1):
#   safetensors_fuzz  seeded mutation fuzz of the safetensors header parser
#   ops_cpu_test      CPU ops against direct (unblocked, single-thread) formulas
#   layers_cpu_test   the shared layers (attention block: KV cache, segments, extra K/V; MLPs; weight
#                     binding) against direct double-precision computations
#   runtime_cpu_test  the token loop (native/src/runtime) on the CPU decoder with the tiny fixture
#   flow_sampler_cpu_test  the flow-matching schedules, samplers and denoising loop (native/src/runtime)
#   cosmos3_generator_cpu_test  the Cosmos 3 Generator engine: fill_normal, and the fixture t2v run end to end
#                     (step latents, final latents, decoded video vs diffusers; abort; errors)
#   cosmos3_audio_cpu_test  the Cosmos 3 AVAE sound decoder vs diffusers on the tiny fixture, config errors
#   cosmos3_transformer_cpu_test  the Cosmos 3 MoT transformer: its ops vs direct formulas, text cache vs
#                     joint forward, and diffusers' outputs on the tiny fixture when present
# ASAN=1 builds them with -fsanitize=address,undefined into native/build/cpu_tests_asan/.
# Rebuilds only when a source is newer than the binary. Prints the output folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../src"
flags=(-std=c++17 -O2 -Wall -pthread)
out="${1:-$here/../build/cpu_tests}"
if [ "${ASAN:-0}" = 1 ]; then
  flags=(-std=c++17 -O1 -g -Wall -pthread -fsanitize=address,undefined -fno-omit-frame-pointer)
  out="${1:-$here/../build/cpu_tests_asan}"
fi
mkdir -p "$out"
build() {  # name, sources...
  local name=$1; shift
  local newest
  newest=$(ls -t "$@" "$here/build_cpu_tests.sh" | head -1)
  if [ ! -x "$out/$name" ] || [ "$newest" -nt "$out/$name" ]; then
    "${CXX:-g++}" "${flags[@]}" -o "$out/$name.tmp" "$@"
    mv -f "$out/$name.tmp" "$out/$name"
  fi
}
build safetensors_fuzz "$here/safetensors_fuzz.cc" "$src/safetensors/safetensors.cc" "$src/core/json.cc" \
  "$src/core/tensor.cc" "$src/core/memory.cc" &
p1=$!
build ops_cpu_test "$here/ops_cpu_test.cc" "$src"/ops/*_cpu.cc "$src/core/parallel.cc" &
p2=$!
build layers_cpu_test "$here/layers_cpu_test.cc" "$src"/layers/*.cc "$src"/ops/*_cpu.cc "$src/core/parallel.cc" \
  "$src/safetensors/safetensors.cc" "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc" &
p3=$!
build runtime_cpu_test "$here/runtime_cpu_test.cc" "$src"/runtime/*.cc "$src"/models/qwen3_text.cc "$src"/layers/*.cc \
  "$src"/ops/*_cpu.cc "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" \
  "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc" &
p4=$!
build cosmos3_transformer_cpu_test "$here/cosmos3_transformer_cpu_test.cc" "$src"/models/cosmos3_transformer.cc \
  "$src"/layers/*.cc "$src"/ops/*_cpu.cc "$src/core/parallel.cc" "$src/core/config.cc" \
  "$src/safetensors/safetensors.cc" "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc" &
p5=$!
build wan_vae_cpu_test "$here/wan_vae_cpu_test.cc" "$src"/models/wan_vae.cc "$src"/layers/*.cc "$src"/ops/*_cpu.cc \
  "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" "$src/core/json.cc" \
  "$src/core/tensor.cc" "$src/core/memory.cc" &
p6=$!
build flow_sampler_cpu_test "$here/flow_sampler_cpu_test.cc" "$src"/runtime/flow_schedule.cc "$src"/runtime/flow_sampler.cc \
  "$src"/runtime/denoise_loop.cc "$src"/ops/lincomb_cpu.cc "$src"/ops/set_rows_cpu.cc "$src"/ops/fill_normal_cpu.cc \
  "$src/core/config.cc" "$src/core/json.cc" "$src/safetensors/safetensors.cc" "$src/core/tensor.cc" "$src/core/memory.cc" &
p7=$!
build cosmos3_generator_cpu_test "$here/cosmos3_generator_cpu_test.cc" "$src"/models/cosmos3_generator.cc \
  "$src"/models/cosmos3_transformer.cc "$src"/models/wan_vae.cc "$src"/runtime/flow_schedule.cc \
  "$src"/runtime/flow_sampler.cc "$src"/runtime/denoise_loop.cc "$src"/layers/*.cc "$src"/ops/*_cpu.cc \
  "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" "$src/core/json.cc" \
  "$src/core/tensor.cc" "$src/core/memory.cc" &
pgen=$!
build cosmos3_audio_cpu_test "$here/cosmos3_audio_cpu_test.cc" "$src"/models/cosmos3_audio.cc "$src"/layers/*.cc \
  "$src"/ops/*_cpu.cc "$src/core/parallel.cc" "$src/core/config.cc" "$src/safetensors/safetensors.cc" \
  "$src/core/json.cc" "$src/core/tensor.cc" "$src/core/memory.cc" &
paudio=$!
wait $p1
wait $p2
wait $p3
wait $p4
wait $p5
wait $p6
wait $p7
wait $pgen
wait $paudio
echo "$out"
