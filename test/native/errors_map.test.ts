// The native module's error codes become cosmos-ts's typed errors, each with a hint.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AbortError, CheckpointError, CosmosError, NativeError, ValidationError } from "../../src/errors.ts";
import { fromNative } from "../../src/native/errors.ts";

const coded = (code: string, message = "boom") => Object.assign(new Error(message), { code });

const CASES: [string, new (...a: never[]) => CosmosError, RegExp | undefined][] = [
  ["SAFETENSORS_OFFSETS", CheckpointError, /re-download/],
  ["MODEL", CheckpointError, /config\.json/],
  ["CONFIG", CheckpointError, /config\.json/],
  ["ABORTED", AbortError, undefined],
  ["ARGUMENT", ValidationError, undefined],
  ["BUSY", NativeError, /abort\(\)/],
  ["FREED", NativeError, /load the model again/],
  ["OUT_OF_MEMORY", NativeError, /closeNative/],
  ["NATIVE", NativeError, undefined],
];

for (const [code, cls, hint] of CASES) {
  test(`native code ${code} -> ${cls.name}`, () => {
    const e = fromNative(coded(code));
    assert.ok(e instanceof cls, `${e.name}`);
    if (hint) assert.match(e.hint ?? "", hint);
    if (code !== "ABORTED") assert.match(e.message, /boom/);
  });
}

test("an error without a code is a NativeError; a CosmosError passes through", () => {
  assert.ok(fromNative(new Error("x")) instanceof NativeError);
  const c = new CheckpointError("already typed");
  assert.equal(fromNative(c), c);
});
