#!/usr/bin/env bash
# Writes .dev/node.xz when it is missing: this machine's node binary, stripped of its debug symbols (21.9 MB
# compressed instead of 23.9: the device call carries at most 64 MiB with the tracked tree), xz -9. The device
# has no node; the scripts that run JavaScript there unpack it with `xz -dc .dev/node.xz > /tmp/node`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ -f .dev/node.xz ] && exit 0
mkdir -p .dev
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cp "$(readlink -f "$(command -v node)")" "$tmp"
strip "$tmp"
xz -9 -T2 < "$tmp" > .dev/node.xz.part && mv .dev/node.xz.part .dev/node.xz
ls -l .dev/node.xz
