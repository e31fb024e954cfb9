#!/usr/bin/env bash
# The mini Generator's and the mini Reasoner's training sessions side by side in one device call (issue 16).
# Each trainer alone leaves the H200 mostly idle (the Generator's 3.5 M-parameter transformer at batch 512 does a
# few TFLOP in a ~140 ms step, under 10% of the GPU's bf16 rate; the Reasoner is as small), so two sessions in one
# call should cost little more wall time than one; each still stops by its own wall-time bound.
#
#   here:   bash tools/device/train_both.sh prepare
#           # train_mini_generator.sh prepare, train_mini_reasoner.sh describe-pack + prepare, and the three
#           # carried folders with the working tree checked against the 64 MiB
#   `run`, kind nvidia-h200, timeout_s 600, carry [".dev/node.xz", ".dev/minigen_carry", ".dev/minireason"]:
#           MG_TRAIN_ARGS="…" MR_GEN_ARGS="…" MR_TRAIN_ARGS="…" bash tools/device/train_both.sh device
#   here:   bash tools/device/train_both.sh unpack FILES_AT DEST
#           # DEST/generator (as train_mini_generator.sh unpack), DEST/reasoner (as train_mini_reasoner.sh unpack)
#
# Settings: every variable of train_mini_generator.sh with the prefix MG_ (MG_SEED_OFFSET, MG_TRAIN_UNTIL,
# MG_TRAIN_ARGS, …) and of train_mini_reasoner.sh with MR_ (MR_GEN_OFFSET, MR_GEN_ARGS, MR_TRAIN_END,
# MR_TRAIN_ARGS, …): the two scripts share names such as TRAIN_ARGS, so each gets only its own. Defaults here:
# MG_TRAIN_INIT=checkpoints/mini-generator, MG_VAE_SECONDS=0, MG_TRAIN_UNTIL=540 (~515 s wall alone),
# MR_TRAIN_END=530 (counted from the start, ~560 s wall with the save); the rest as each script's own.
#
# Results under $OUT (at most 8 files come back): generator.bundle.tar.part-* and reasoner.bundle.tar.part-*
# (each script's checkpoint bundle), logs.tar (each script's other files and console), summary.txt (both
# summaries). `unpack` puts them back as each script's own unpack expects.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Runs tools/device/$2 with the variables named PREFIX_X as X and no other X of the caller's.
run_prefixed() {
  local prefix=$1 script=$2 out=$3 name
  local vars=() unset=()
  for name in TRAIN_ARGS TRAIN_INIT TRAIN_UNTIL TRAIN_END TRAIN_STATE_IN VAE_SECONDS SEEDS SEED_OFFSET \
    GEN_SEEDS GEN_OFFSET GEN_CHUNK GEN_SECONDS GEN_TASKS GEN_ARGS; do
    unset+=(-u "$name")
  done
  for name in $(compgen -v "$prefix"); do vars+=("${name#"$prefix"}=${!name}"); done
  env "${unset[@]}" "${vars[@]}" OUT="$out" NODE_UNPACKED=1 bash "tools/device/$script" device
}

case "${1:-}" in
prepare)
  bash tools/device/train_mini_generator.sh prepare || exit 1
  bash tools/device/train_mini_reasoner.sh describe-pack || exit 1
  bash tools/device/train_mini_reasoner.sh prepare .dev/describe_src/* > /dev/null || exit 1
  bash tools/device/carry_fits.sh .dev/node.xz .dev/minigen_carry .dev/minireason ;;
device)
  out=${OUT:-/tmp/train_both}
  mkdir -p "$out/generator" "$out/reasoner"
  t0=$SECONDS
  xz -dc .dev/node.xz > /tmp/node && chmod +x /tmp/node || { echo "no .dev/node.xz" | tee "$out/summary.txt"; exit 1; }
  export MG_TRAIN_INIT=${MG_TRAIN_INIT:-checkpoints/mini-generator} MG_VAE_SECONDS=${MG_VAE_SECONDS:-0}
  export MG_TRAIN_UNTIL=${MG_TRAIN_UNTIL:-540} MR_TRAIN_END=${MR_TRAIN_END:-530}
  run_prefixed MG_ train_mini_generator.sh "$out/generator" > "$out/generator.txt" 2>&1 &
  generator=$!
  run_prefixed MR_ train_mini_reasoner.sh "$out/reasoner" > "$out/reasoner.txt" 2>&1 &
  reasoner=$!
  wait "$generator"; rc_g=$?
  wait "$reasoner"; rc_r=$?
  {
    echo "== generator (rc $rc_g)"; cat "$out/generator/summary.txt" 2>/dev/null
    echo "== reasoner (rc $rc_r)"; cat "$out/reasoner/summary.txt" 2>/dev/null
    echo "total $((SECONDS - t0)) s"
  } | tee "$out/summary.txt"
  # At most 8 files come back from $OUT (device/README.md, Limits): the two sessions leave ~10, so the bundle
  # parts move up a level under their session's prefix and everything else goes into one logs.tar.
  for s in generator reasoner; do
    for f in "$out/$s"/bundle.tar.part-*; do [ -f "$f" ] && mv "$f" "$out/${s}.${f##*/}"; done
  done
  (cd "$out" && tar -cf logs.tar generator reasoner generator.txt reasoner.txt && rm -rf generator reasoner generator.txt reasoner.txt)
  ls "$out" ;;
unpack)
  from=${2:?files_at}
  dest=${3:?destination folder}
  staged=$(mktemp -d)
  tar -xf "$from/logs.tar" -C "$staged" || exit 1
  for s in generator reasoner; do
    for f in "$from/$s".bundle.tar.part-*; do [ -f "$f" ] && cp "$f" "$staged/$s/${f##*/$s.}"; done
  done
  bash tools/device/train_mini_generator.sh unpack "$staged/generator" "$dest/generator" &&
    bash tools/device/train_mini_reasoner.sh unpack "$staged/reasoner" "$dest/reasoner"
  rc=$?
  rm -rf "$staged"
  exit $rc ;;
*)
  sed -n '2,23p' "$0"
  exit 2 ;;
esac
