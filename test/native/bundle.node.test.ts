// The CommonJS bundle tslab notebooks load (dist/cosmos.cjs, built by scripts/build-bundle.sh during
// set-up) finds the native module from dist/ and runs reason() in-process on the tiny checkpoint.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("../../", import.meta.url));

test("dist/cosmos.cjs: native reason() on the tiny checkpoint", async () => {
  const cosmos = require(`${root}dist/cosmos.cjs`) as typeof import("../../src/mod.ts");
  assert.equal(cosmos.addonPath(), `${root}native/build/Release/cosmos_native.node`);
  const r = await cosmos.reason({ task: "custom", prompt: "Hi", maxTokens: 3, sampling: { temperature: 0 } }, {
    backend: `${root}test/fixtures/qwen3vl-tiny`,
  });
  assert.match(r.backend, /^native:(cpu|cuda) /);
  assert.equal(r.usage?.completionTokens, 3);
  await cosmos.closeQwen3VL();
});
