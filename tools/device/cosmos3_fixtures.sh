#!/usr/bin/env bash
# The Cosmos 3 Generator reference fixtures (tools/fixtures/make_cosmos3_tiny.py) made on the device machine
# from the real diffusers classes (diffusers is not installed there: its src/ at commit 58eb52c0 is carried).
#
#   here:   bash tools/device/cosmos3_fixtures.sh prepare
#           writes .dev/diffusers_src.tgz (git archive of diffusers 58eb52c0 src/, ~5 MB; git-ignored)
#   `run`, kind nvidia-h200, carry [.dev/diffusers_src.tgz]:
#           bash tools/device/cosmos3_fixtures.sh device
#   or only the distilled section (Cosmos3DistilledModularPipeline on the committed cosmos3-tiny weights, ~1 min):
#           bash tools/device/cosmos3_fixtures.sh device --only-distilled
#     $OUT then holds pipeline_distilled_{t2i,i2v,v2v}.safetensors and distilled.json (every distilled file, no
#     tgz): copy them into test/fixtures/cosmos3-tiny-reference/, then `bash tools/fixtures/references.sh pack`
#     (the references are tracked as .safetensors.xz). t2i and i2v come out byte-for-byte as committed
#     (each run seeds its own generator; v2v runs after them).
#
# Results under $OUT (the run tool returns at most 8 files, 2 folders deep, so the full run's output is packed):
#   full run:          cosmos3_fixtures.tgz  everything the script wrote (cosmos3-tiny/, cosmos3-tiny-reference/,
#                      make.txt, errors.txt when a section failed); unpack here with
#                      tar -xzf <files_at>/cosmos3_fixtures.tgz -C /tmp/fx
#   --only-distilled:  the 3 pipeline_distilled_*.safetensors and distilled.json as they are
#   both:              make.txt, errors.txt (when a section failed), stderr.txt (warnings), sizes.txt
#   (at most 8 files: the distilled run's 4 + these 4)
# The script runs on the CPU (CUDA_VISIBLE_DEVICES= : fp32, deterministic), about a minute after ~20 s of imports.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DIFFUSERS_COMMIT=58eb52c0803ea9af3abec60841c2a093bdf1f951
case "${1:-}" in
prepare)
  mirror=${DIFFUSERS_MIRROR:-/work/.mirror/huggingface+diffusers/repo}
  mkdir -p .dev
  # to a temporary file first: a failed archive (no mirror) must not leave an empty .tgz that later checks take for one
  tmp=.dev/diffusers_src.tgz.part
  if git -C "$mirror" archive "$DIFFUSERS_COMMIT" src | gzip -9 > "$tmp"; then
    mv "$tmp" .dev/diffusers_src.tgz && ls -l .dev/diffusers_src.tgz
  else
    rm -f "$tmp"
    echo "no diffusers $DIFFUSERS_COMMIT at $mirror: fetch github:huggingface/diffusers (the fetch tool) or set DIFFUSERS_MIRROR" >&2
    exit 1
  fi ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  out=${OUT:-/tmp/cosmos3_fixtures}
  fx=/tmp/fx
  mkdir -p "$out" && rm -rf "$fx" && mkdir -p "$fx"
  rm -rf /tmp/dsrc && mkdir -p /tmp/dsrc && tar -xzf .dev/diffusers_src.tgz -C /tmp/dsrc ||
    { echo "no .dev/diffusers_src.tgz: run prepare here and carry it" >&2; exit 1; }
  HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES= PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/dsrc/src DIFFUSERS_COMMIT=$DIFFUSERS_COMMIT \
    timeout 500 python3 tools/fixtures/make_cosmos3_tiny.py "$fx" "${@:2}" 2> "$out/stderr.txt"
  rc=$?
  echo "make_cosmos3_tiny.py rc=$rc"
  (cd "$fx" && find . -type f -printf '%9s %p\n' | sort -k2; du -sh .) > "$out/sizes.txt"
  if [[ " ${*:2} " == *" --only-distilled "* ]]; then
    for f in "$fx"/cosmos3-tiny-reference/pipeline_distilled_*.safetensors "$fx"/cosmos3-tiny-reference/distilled.json; do
      [ -f "$f" ] && cp "$f" "$out/"
    done
    # the runs already committed should come out unchanged (a difference is a determinism problem to look at)
    for f in "$fx"/cosmos3-tiny-reference/pipeline_distilled_*.safetensors; do
      committed=test/fixtures/cosmos3-tiny-reference/$(basename "$f")
      if [ -f "$committed" ]; then
        cmp -s "$f" "$committed" && echo "$(basename "$f"): identical to the committed file" ||
          echo "$(basename "$f"): DIFFERS from the committed file"
      else
        echo "$(basename "$f"): new"
      fi
    done
  else
    tar -czf "$out/cosmos3_fixtures.tgz" -C "$fx" .
  fi
  cp "$fx/make.txt" "$out/" 2>/dev/null
  [ -f "$fx/errors.txt" ] && { cp "$fx/errors.txt" "$out/"; echo "--- errors.txt"; cat "$fx/errors.txt"; }
  echo "--- stderr (last 20 lines)"; tail -20 "$out/stderr.txt"
  echo "--- sizes"; cat "$out/sizes.txt"; ls -l "$out"
  exit $rc ;;
*) echo "usage: cosmos3_fixtures.sh prepare | device [--only-distilled]" >&2; exit 2 ;;
esac
