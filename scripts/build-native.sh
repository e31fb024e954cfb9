#!/usr/bin/env bash
# Builds the native Node-API module native/build/Release/cosmos_native.node with cmake-js (offline).
#   COSMOS_NATIVE_CUDA=0  CPU backend only, even when nvcc is installed.
#   COSMOS_NATIVE_JOBS=N  parallel compile jobs (default: all cores).
# Idempotent: cmake/make rebuild only what changed, so a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '\033[1m[build-native]\033[0m %s\n' "$*"; }

cuda=ON
if [ "${COSMOS_NATIVE_CUDA:-1}" = 0 ]; then cuda=OFF; fi
if [ "$cuda" = ON ] && ! command -v nvcc >/dev/null 2>&1; then
  for d in /usr/local/cuda/bin /usr/local/cuda-13.0/bin; do
    if [ -x "$d/nvcc" ]; then export PATH="$d:$PATH"; break; fi
  done
fi
if [ "$cuda" = ON ] && command -v nvcc >/dev/null 2>&1; then
  export CUDACXX="${CUDACXX:-$(command -v nvcc)}"
  log "CUDA kernels on ($CUDACXX)"
else
  [ "$cuda" = ON ] && log "no nvcc found: CPU backend only"
  cuda=OFF
fi
jobs="${COSMOS_NATIVE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# One cmake folder per setting (CPU-only vs CUDA), so switching never reconfigures or wipes the other.
work="native/build/cmake-$( [ "$cuda" = ON ] && echo cuda || echo cpu )"
mkdir -p "$work" native/build/Release

start=$(date +%s)
node node_modules/cmake-js/bin/cmake-js build --directory native --out "$work" --parallel "$jobs" \
  --CDCOSMOS_NATIVE_CUDA="$cuda" --log-level warn >"$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2
  echo "native build failed; full log: $work/build.log" >&2
  exit 1
}
# Install by rename, never by overwriting in place: a process that has the old .node mapped keeps it.
dst=native/build/Release/cosmos_native.node
if ! cmp -s "$work/Release/cosmos_native.node" "$dst"; then
  cp "$work/Release/cosmos_native.node" "$dst.tmp.$$"
  mv -f "$dst.tmp.$$" "$dst"
fi
test -f native/build/Release/cosmos_native.node
log "native/build/Release/cosmos_native.node ready ($(( $(date +%s) - start )) s)"
