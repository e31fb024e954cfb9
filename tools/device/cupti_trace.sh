#!/usr/bin/env bash
# A timeline of a program's GPU work on the device (tools/device/cupti_trace.cc), with the card's clocks and power
# sampled beside it.
#
#   device: bash tools/device/cupti_trace.sh build
#           bash tools/device/cupti_trace.sh run TRACE PROGRAM [ARGS...]
#             TRACE: the timeline (one line per kernel, copy and memset); TRACE.smi.csv: nvidia-smi's samples every
#             20 ms while PROGRAM runs (SM clock, power, temperature, throttle reasons).
#           python3 tools/device/trace_summary.py TRACE   (a qwen3vl_prefill_bench process: spans, busy and idle time)
#           bash tools/device/cupti_trace.sh qwen3vl DIR [BENCH]: the above for qwen3vl_prefill_bench's video and image
#             cases (3 timed runs each; the video as is, with COSMOS_TOWER_HEAD=0 and with COSMOS_QKV_BF16_OUT=0, the last
#             only where TRACE_CASES names it): DIR/summary.txt (the second and
#             last runs' summaries, the clock and power samples' range) and DIR/traces.tar.xz (the timelines);
#             TRACE_CASES="video image" (say) runs those only.
set -uo pipefail
lib=/tmp/libcupti_trace.so
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
find_cupti() {  # the toolkit's CUPTI, else a PyTorch wheel's
  local inc
  for inc in /usr/local/cuda/extras/CUPTI/include /usr/local/cuda-*/extras/CUPTI/include \
    /usr/local/cuda/targets/x86_64-linux/include; do
    [ -f "$inc/cupti.h" ] && { echo "$inc"; return; }
  done
  dirname "$(find / -name cupti.h -path '*include*' 2> /dev/null | head -1)"
}
case "${1:-}" in
build)
  inc=$(find_cupti)
  [ -f "$inc/cupti.h" ] || { echo "cupti_trace: no cupti.h on this machine" >&2; exit 1; }
  so=$(find "$inc/.." /usr/local/cuda/lib64/ /usr/local/cuda/targets/ -name 'libcupti.so*' 2> /dev/null | head -1)
  libdir=$(dirname "$so")
  echo "cupti: $inc, $so"
  g++ -std=c++17 -O2 -shared -fPIC "$here/cupti_trace.cc" -I"$inc" -I/usr/local/cuda/include \
    -L"$libdir" -Wl,-rpath,"$libdir" -lcupti -o "$lib" ;;
run)
  trace=$2
  shift 2
  reasons=clocks_event_reasons.active  # (named clocks_throttle_reasons before driver 535)
  nvidia-smi --query-gpu=$reasons --format=csv > /dev/null 2>&1 || reasons=clocks_throttle_reasons.active
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,$reasons --format=csv -lms 20 > "$trace.smi.csv" 2> /dev/null &
  smi=$!
  CUDA_INJECTION64_PATH=$lib COSMOS_TRACE_OUT=$trace "$@"
  rc=$?
  kill "$smi" 2> /dev/null
  exit $rc ;;
qwen3vl)
  dir=$2 bench=${3:-.dev/benchbin/qwen3vl_prefill_bench}
  mkdir -p "$dir" /tmp/cupti_traces
  for spec in "video|" "video_no_head|COSMOS_TOWER_HEAD=0" "video_qkv_f32|COSMOS_QKV_BF16_OUT=0" "image|"; do
    IFS='|' read -r name vars <<< "$spec"
    [[ " ${TRACE_CASES:-video video_no_head image} " == *" $name "* ]] || continue
    t=/tmp/cupti_traces/$name.txt
    # shellcheck disable=SC2086 # vars: words of NAME=VALUE
    env NO_BREAKDOWN=1 PREFILL_CASES="${name%%_*}" PREFILL_REPS=3 $vars timeout 120 bash "$0" run "$t" "$bench" \
      > "/tmp/cupti_traces/$name.log" 2>&1
    echo "== $name ($vars) rc=$?" >> "$dir/summary.txt"
    grep -E "^  run [0-9] tower|^(image|video) " "/tmp/cupti_traces/$name.log" | sed -E 's/\| process peak.*//' \
      >> "$dir/summary.txt"
    python3 "$here/trace_summary.py" "$t" 1 3 >> "$dir/summary.txt" 2>&1
    python3 "$here/trace_summary.py" --smi "$t.smi.csv" >> "$dir/summary.txt" 2>&1
  done
  tar -C /tmp/cupti_traces -cJf "$dir/traces.tar.xz" . ;;
*) echo "usage: cupti_trace.sh build | run TRACE PROGRAM [ARGS...] | qwen3vl DIR [BENCH]" >&2; exit 2 ;;
esac
