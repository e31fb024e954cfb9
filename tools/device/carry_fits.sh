#!/usr/bin/env bash
# carry_fits.sh PATH...: whether a device call carrying PATHs fits the 64 MiB it may send (the tracked and the
# untracked-not-ignored files of the working tree, plus the carried paths). Prints the sizes; exits 1 when over.
# Sizes are counted as the disk blocks the files take (du's default), not their bytes: a call whose bytes came to
# 63.5 MiB but whose 4 KiB blocks came to 65.1 MiB (the 721 tracked files' last blocks) was refused as over 64 MiB
# (2026-11-30), so the blocks are the measure that predicts the refusal.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
carry=$(($(du -ck "$@" | tail -n 1 | cut -f1) * 1024))
# tracked files set aside (tools/device/set_aside.sh) or deleted are not sent: only what exists is counted
tree=$(($( { git ls-files -z; git ls-files -z --others --exclude-standard; } |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | du -ck --files0-from=- | tail -n 1 | cut -f1) * 1024))
echo "carry $((carry / 1048576)) MiB ($carry B) + working tree $((tree / 1048576)) MiB = $(((carry + tree) / 1048576)) MiB of 64"
[ $((carry + tree)) -le $((64 * 1048576)) ] || { echo "over the device call's 64 MiB" >&2; exit 1; }
