#!/usr/bin/env bash
# Tracked files a device call does not need, moved out of the working tree for that call, so the tree + carry fit the
# 64 MiB a call may send (tools/device/carry_fits.sh). E.g. the mini Generator's training call needs neither the mini
# Reasoner's weights nor the test fixtures:
#
#   bash tools/device/set_aside.sh hide checkpoints/mini-reasoner/model.safetensors
#   # ... the `run` call ...
#   bash tools/device/set_aside.sh restore     # (or `git checkout -- PATH`: the files are tracked)
#
# The files wait under .dev/aside/ (git-ignored) with their paths; `restore` moves every one back.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
hide)
  shift
  for p in "$@"; do
    git ls-files --error-unmatch -- "$p" >/dev/null 2>&1 || { echo "set_aside: $p is not a tracked file" >&2; exit 1; }
    mkdir -p ".dev/aside/$(dirname "$p")" && mv -- "$p" ".dev/aside/$p" && echo "set aside: $p"
  done ;;
restore)
  [ -d .dev/aside ] || exit 0
  (cd .dev/aside && find . -type f -printf '%P\n') | while IFS= read -r f; do
    mkdir -p "$(dirname "$f")" && mv -- ".dev/aside/$f" "$f" && echo "restored: $f"
  done
  rm -rf .dev/aside ;;
*)
  sed -n '2,10p' "$0"
  exit 2 ;;
esac
