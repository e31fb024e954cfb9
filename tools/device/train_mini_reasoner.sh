#!/usr/bin/env bash
# The mini Reasoner's training session on the GPU machine in one device call (issue 16):
# tools/train/train_reasoner.py on the world data written here, resumed from the committed weights,
# bounded in wall time, the new weights, the training state and the log returned under $OUT.
#
#   here:   bash tools/device/train_mini_reasoner.sh prepare DATA_DIR...
#           # DATA_DIR: folders written by `world_data.ts --sampled-frames` (train split);
#           # packs them into .dev/reasoner_data.tar.xz (git-ignored); refused when it and the
#           # working tree together pass the device's 64 MiB (the tree is ~33 MiB: ~30 MiB of data, 6 folders)
#   `run`, kind nvidia-h200, timeout_s 580, carry [".dev/reasoner_data.tar.xz"]:
#           bash tools/device/train_mini_reasoner.sh device
#   here:   bash tools/device/train_mini_reasoner.sh unpack FILES_AT DEST
#           # DEST/ckpt: the checkpoint (for bench/mini_reasoner_eval.ts), DEST/st: the training
#           # state (for a later session's --state), DEST/train.log
#
# Settings (environment): TRAIN_UNTIL (default 470: training stops this many seconds after the
# trainer starts; the checkpoint, state, per-task losses and a few greedy answers follow, ~30 s),
# TRAIN_INIT (default tools/train/resume/mini-reasoner; "none" starts from scratch), TRAIN_STATE_IN
# (a state folder to resume instead, e.g. one carried back from an earlier run), TRAIN_ARGS (more
# trainer options, e.g. "--batch 96 --lr 2e-3").
#
# Results under $OUT: train.log, summary.txt, and bundle.tar.part-aa, -ab, … (ckpt/ and state/ in
# one tar, split in 15 MiB parts: every returned file stays under the device's 16 MiB limit). The
# trainer writes its checkpoint every 120 s of training, so a run cut short still returns weights.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  shift
  [ $# -gt 0 ] || { echo "usage: $0 prepare DATA_DIR..." >&2; exit 2; }
  mkdir -p .dev/pack && rm -rf .dev/pack/*
  for d in "$@"; do
    [ -f "$d/manifest.json" ] || { echo "$d: no manifest.json (not a world_data.ts folder)" >&2; exit 2; }
    grep -q '"split": "train"' "$d/manifest.json" || { echo "$d: not the train split" >&2; exit 2; }
    ln -s "$(cd "$d" && pwd)" ".dev/pack/$(basename "$d")"
  done
  # -h follows the links; xz packs the PNGs' zlib streams a little tighter than gzip
  tar -chf - -C .dev/pack . | xz -6 -T2 > .dev/reasoner_data.tar.xz
  size=$(stat -c %s .dev/reasoner_data.tar.xz)
  echo ".dev/reasoner_data.tar.xz: $((size / 1048576)) MiB ($size bytes), $# folders"
  # The device call carries the working tree (tracked files and untracked, not ignored ones) and the
  # carry together, 64 MiB in all: what the tree takes is what is left for the data.
  tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | du -cb --files0-from=- 2>/dev/null |
    tail -n 1 | cut -f1)
  left=$((64 * 1048576 - ${tree:-0}))
  echo "working tree: $((${tree:-0} / 1048576)) MiB; carry + tree: $(((${tree:-0} + size) / 1048576)) MiB of 64"
  [ "$size" -le "$left" ] ||
    { echo "the carry is over the $((left / 1048576)) MiB the 64 MiB device limit leaves: pass fewer folders" >&2; exit 1; } ;;
device)
  out=${OUT:-/tmp/train_mini_reasoner}
  mkdir -p "$out"
  sum="$out/summary.txt"
  : > "$sum"
  note() { echo "$*" | tee -a "$sum"; }
  note "device: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null) ; $(nproc) cores"
  note "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) (+ uncommitted changes of the working tree)"
  t0=$SECONDS
  rm -rf /tmp/d /tmp/ckpt /tmp/st && mkdir -p /tmp/d
  python3 -c "import tarfile; tarfile.open('.dev/reasoner_data.tar.xz').extractall('/tmp/d')" ||
    { note "unpacking .dev/reasoner_data.tar.xz failed"; exit 1; }
  note "data unpacked in $((SECONDS - t0)) s: $(ls /tmp/d | tr '\n' ' ')"
  init=${TRAIN_INIT:-tools/train/resume/mini-reasoner}
  args=(--data /tmp/d/* --out /tmp/ckpt --state /tmp/st --seconds 100000 --until "${TRAIN_UNTIL:-470}"
    --preprocess-seconds 60 --look 1)
  if [ -n "${TRAIN_STATE_IN:-}" ]; then
    cp -r "$TRAIN_STATE_IN" /tmp/st
  elif [ "$init" != none ]; then
    args+=(--init "$init")
  fi
  # shellcheck disable=SC2206
  args+=(${TRAIN_ARGS:-})
  t1=$SECONDS
  PYTHONUNBUFFERED=1 timeout $(( ${TRAIN_UNTIL:-470} + 60 )) python3 tools/train/train_reasoner.py "${args[@]}" \
    > "$out/train.log" 2>&1
  note "trainer: rc=$? ($((SECONDS - t1)) s)"
  grep -E "prepared|self-check|fast paths|training for|trained|loss [a-z_]+:|stopped|failed" "$out/train.log" |
    cut -c1-300 >> "$sum"
  grep -E "^\[.*step [0-9]+ " "$out/train.log" | tail -n 4 >> "$sum"
  (cd /tmp && tar -cf - $( [ -d ckpt ] && echo ckpt) $( [ -d st ] && echo st)) | split -b 15m - "$out/bundle.tar.part-"
  note "bundle: $(ls "$out" | tr '\n' ' ') (total $((SECONDS - t0)) s)" ;;
unpack)
  from=${2:?files_at}
  dest=${3:?destination folder}
  mkdir -p "$dest"
  cat "$from"/bundle.tar.part-* | tar -xf - -C "$dest"
  cp "$from"/train.log "$from"/summary.txt "$dest"/ 2>/dev/null
  ls -la "$dest" "$dest"/ckpt ;;
*)
  sed -n '2,24p' "$0"
  exit 2 ;;
esac
