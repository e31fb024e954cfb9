#!/usr/bin/env bash
# The test command (README, .ci/run): set-up, type check, format check, then every test file on
# Node (tsx) and the pure-TS ones on Deno too. Prints "N passed, N failed" at the end.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh || { echo "set-up failed"; exit 1; }
export PATH="$PWD/node_modules/.bin:$PATH"
logs=$(mktemp -d)
status=0

echo "== type check (TypeScript 5.9 from node_modules/typescript)"
if ! node node_modules/typescript/bin/tsc --noEmit -p tsconfig.json; then echo "type check failed"; status=1; fi
# A user's script (test/typecheck/user_script.ts imports src/mod.ts and kernel/mod.ts) checked with
# what a user runs: `npx tsc` must be our TypeScript, not tslab's 5.0 fork that also ships a `tsc`
# bin (scripts/link-typescript.sh, npm's postinstall, fixes the link), and `deno check`.
echo "== type check of a user script: npx tsc $(npx --no-install tsc -v 2>&1), deno check"
if ! npx --no-install tsc -v | grep -qx "Version $(node -p 'require("typescript/package.json").version')"; then
  echo "npx tsc is not node_modules/typescript (tslab's fork?): run npm ci or bash scripts/link-typescript.sh"; status=1
fi
if ! npx --no-install tsc -p test/typecheck; then echo "npx tsc: the user script does not type-check"; status=1; fi
if ! deno check test/typecheck/user_script.ts; then echo "deno check: the user script does not type-check"; status=1; fi
echo "== format: deno fmt --check (which files and the line width: deno.json)"
if ! deno fmt --check >/dev/null 2>&1; then deno fmt --check 2>&1 | grep -E "^from " | head -20; echo "not formatted: run node_modules/.bin/deno fmt"; status=1; fi
echo "== format: clang-format --check of the C++/CUDA sources (the style: native/.clang-format)"
if ! bash scripts/format-native.sh --check; then status=1; fi

mapfile -t all < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
mapfile -t deno_files < <(printf '%s\n' "${all[@]}" | grep -v '\.node\.test\.ts$')

echo "== Node ${#all[@]} test files"
node --import tsx --test --test-reporter=spec "${all[@]}" 2>&1 | tee "$logs/node.txt"
node_rc=${PIPESTATUS[0]}
echo "== Deno ${#deno_files[@]} test files"
deno test -A --no-check "${deno_files[@]}" 2>&1 | tee "$logs/deno.txt"
deno_rc=${PIPESTATUS[0]}

strip() { sed -E 's/\x1b\[[0-9;]*m//g' "$1"; }
node_pass=$(strip "$logs/node.txt" | grep -E '^ℹ pass [0-9]+' | awk '{print $3}' | tail -1)
node_fail=$(strip "$logs/node.txt" | grep -E '^ℹ fail [0-9]+' | awk '{print $3}' | tail -1)
deno_line=$(strip "$logs/deno.txt" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
deno_pass=$(echo "$deno_line" | sed -E 's/.*\| ([0-9]+) passed.*/\1/')
deno_fail=$(echo "$deno_line" | sed -E 's/.*\| ([0-9]+) failed.*/\1/')
passed=$(( ${node_pass:-0} + ${deno_pass:-0} ))
failed=$(( ${node_fail:-0} + ${deno_fail:-0} ))
[ "$node_rc" = 0 ] || { status=1; [ "$failed" -gt 0 ] || failed=1; }
[ "$deno_rc" = 0 ] || { status=1; [ "$failed" -gt 0 ] || failed=1; }
[ "$passed" -gt 0 ] || status=1
# CI shows only the end of this output: repeat what failed (with the assertion messages) here.
if [ "$failed" -gt 0 ]; then
  echo "== what failed (repeated from above)"
  strip "$logs/node.txt" | sed -n '/^✖ failing tests:/,$p' | grep -v -E '^ℹ ' | head -c 6000
  strip "$logs/deno.txt" | sed -n '/^ ERRORS \|^ERRORS/,/^ FAILURES\|^FAILURES/p' | head -c 3000
fi
echo "node: ${node_pass:-0} passed, ${node_fail:-0} failed; deno: ${deno_pass:-0} passed, ${deno_fail:-0} failed"
echo "${passed} passed, ${failed} failed"
exit $status
