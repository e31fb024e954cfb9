// Test helper: the checkpoint loaders' errors are CheckpointErrors whose message matches and that carry a hint.
import assert from "node:assert/strict";
import { CheckpointError } from "../../src/errors.ts";

/** An `assert.rejects` / `assert.throws` validator: a CheckpointError matching `re`, with a real hint. */
export function isCkptError(re: RegExp): (e: unknown) => true {
  return (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(e.hint && e.hint.length > 10, "has a hint");
    return true;
  };
}
