#!/usr/bin/env bash
# Formats the C++/CUDA sources (native/, bench/, tools/) with clang-format and native/.clang-format.
#   bash scripts/format-native.sh          rewrite the files in place
#   bash scripts/format-native.sh --check  change nothing; list the files that differ and exit 1 if any
# Only tracked files and new files git does not ignore are formatted, so build folders are left alone.
# clang-format comes from Debian (scripts/setup.sh installs it); the style is pinned to what version 14
# prints, the version Debian 12 ships.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v clang-format >/dev/null 2>&1 || { echo "clang-format is missing: sudo apt-get install -y clang-format" >&2; exit 1; }
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
  'native/*.h' 'native/*.cc' 'native/*.cu' 'native/*.cuh' 'bench/*.h' 'bench/*.cc' 'bench/*.cu' 'bench/*.cuh' \
  'tools/*.h' 'tools/*.cc' 'tools/*.cu' | sort -u)
[ ${#files[@]} -gt 0 ] || exit 0
if [ "${1:-}" = --check ]; then
  bad=()
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    clang-format --style=file:native/.clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    printf 'not formatted: %s\n' "${bad[@]}"
    echo "run: bash scripts/format-native.sh"
    exit 1
  fi
  exit 0
fi
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
clang-format --style=file:native/.clang-format -i "${existing[@]}"
