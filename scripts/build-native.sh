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

# A configured build folder with the other CUDA setting must be reconfigured, not reused.
cache=native/build/CMakeCache.txt
if [ -f "$cache" ] && ! grep -q "^COSMOS_NATIVE_CUDA:BOOL=$cuda\$" "$cache"; then
  rm -rf native/build/CMakeCache.txt native/build/CMakeFiles
fi

start=$(date +%s)
node node_modules/cmake-js/bin/cmake-js build --directory native --out native/build --parallel "$jobs" \
  --CDCOSMOS_NATIVE_CUDA="$cuda" --log-level warn >native/build.log 2>&1 || {
  tail -n 60 native/build.log >&2
  echo "native build failed; full log: native/build.log" >&2
  exit 1
}
test -f native/build/Release/cosmos_native.node
log "native/build/Release/cosmos_native.node ready ($(( $(date +%s) - start )) s)"
