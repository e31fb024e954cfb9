#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian 12 machine with Node 20 and npm:
#   1. system tools from Debian apt (ffmpeg, Jupyter nbconvert/nbclient, Chromium, cmake and g++ for
#      the native build, clang-format for the test script's C++ format check) when missing;
#   2. npm dependencies from the committed lock file (deno comes from the `deno` npm package);
#   3. the native Node-API module (CUDA kernels too when nvcc is present);
#   4. the CommonJS bundle tslab loads, and the Jupyter kernels (Deno's and tslab's);
#   5. the derived test fixtures (tools/fixtures/derive.sh: repackagings of committed fixtures, not tracked).
# Each step is skipped when already done, so running it again is quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- 1. system tools -------------------------------------------------------
missing=()
command -v ffmpeg >/dev/null 2>&1 || [ -n "${FFMPEG_BIN:-}" ] || missing+=(ffmpeg)
[ -x /usr/bin/jupyter-nbconvert ] || missing+=(jupyter-nbconvert)
/usr/bin/python3 -c 'import nbclient' >/dev/null 2>&1 || missing+=(python3-nbclient)
/usr/bin/python3 -c 'import ipykernel' >/dev/null 2>&1 || missing+=(python3-ipykernel)
[ -x /usr/bin/jupyter-notebook ] || missing+=(jupyter-notebook)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v clang-format >/dev/null 2>&1 || missing+=(clang-format)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# --- 2. npm dependencies ------------------------------------------------------
stamp=node_modules/.cosmos-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
# npx tsc = our TypeScript, not tslab's fork (npm's postinstall does it; again here for node_modules
# installed before that script existed, which the lock stamp above does not reinstall).
bash scripts/link-typescript.sh

# --- 3. native module ----------------------------------------------------------
bash scripts/build-native.sh

# --- 4. tslab bundle, Jupyter kernels, the cookbooks' synthetic inputs ----------
bash scripts/build-bundle.sh
bash kernel/install.sh
node --import tsx assets/make.ts

# --- 5. derived test fixtures (the tiny Cosmos 3 checkpoints the action cookbooks and tests open) ------------
bash tools/fixtures/derive.sh
log "ready"
