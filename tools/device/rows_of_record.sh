#!/usr/bin/env bash
# Issue 14's ratios of record in one device call: `bash bench/run.sh decode prefill` (ours and transformers' decode,
# eager and compiled, and the tower + prefill against transformers sdpa, in the same run), on the card the issue names.
#
#   here:   bash tools/device/rows_of_record.sh prepare [COMMIT]
#           bash bench/run.sh prepare [COMMIT], then .dev/rows_of_record.tar.xz with just the two drivers those
#           sections run and their MANIFEST (~9 MB; .dev/benchbin whole does not fit beside the tracked tree).
#   device: `run`, timeout_s 600, carry [".dev/rows_of_record.tar.xz"]:
#           bash tools/device/rows_of_record.sh device
#           Stops at once (exit 3, a few seconds of device time) unless the card is an H200 (CARD=any: whatever card
#           came; CARD=H100: only an H100): a plain call lands on an H100 most of the time, and the issue's
#           ratios are H200 figures (an H100's compiled torch runs nearer its roofline: 1.47x is the most any decode
#           step could reach there). ~5 min (decode ~3.5, of it ~1.7 compiling torch; prefill ~40 s). Under $OUT:
#           bench.log, summary.txt (the joined JSON rows), rows.jsonl; the rows of record printed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TAR=.dev/rows_of_record.tar.xz
case "${1:-}" in
prepare)
  bash bench/run.sh prepare "${2:-HEAD}" || exit 1
  tar -cJf "$TAR" .dev/benchbin/MANIFEST .dev/benchbin/qwen3_decode_bench .dev/benchbin/qwen3vl_prefill_bench || exit 1
  ls -la "$TAR"
  bash tools/device/carry_fits.sh "$TAR" ;;
device)
  card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  echo "card: $card"
  want=${CARD:-H200}
  [ "$want" = any ] || [[ "$card" == *"$want"* ]] || { echo "not an $want: stopping (CARD=any runs on any card)"; exit 3; }
  tar -xJf "$TAR" || { echo "no $TAR: run prepare here and carry it" >&2; exit 1; }
  out=${OUT:-/tmp/rows_of_record}
  OUT=$out BENCH_BUDGET_S=${BENCH_BUDGET_S:-560} bash bench/run.sh decode prefill
  echo "bench/run.sh rc=$?"
  # The rows of record: decode on both steps at both lengths (with the compiled-torch ratio at 128/128), the
  # boundary prefetch's row, the tower + prefill rows.
  grep -E '^\{"row": "(qwen3_decode_(128_128|1024_256)"|qwen3_decode_persistent_(128_128|1024_256|24_kb[a-z_]*_128_128)"|qwen3vl)' \
    "$out/summary.txt" ;;
*) echo "usage: rows_of_record.sh prepare [COMMIT] | device" >&2; exit 2 ;;
esac
