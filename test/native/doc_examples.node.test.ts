// The JSDoc examples of src/native/ run as tests (`deno test --doc`): each ```ts block is type-checked
// and executed against the real native module and the tiny fixture checkpoint, so an example that
// no longer compiles or no longer runs fails here. (Only src/native for now: examples elsewhere need
// servers or media files that are not in the repository; see issue 11 item 7.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("every JSDoc example in src/native runs (deno test --doc)", { timeout: 240_000 }, async () => {
  const files = readdirSync(join(ROOT, "src/native")).filter((f) => f.endsWith(".ts")).map((f) => `src/native/${f}`);
  assert.ok(files.length >= 10, `${files.length} modules`);
  const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      join(ROOT, "node_modules/.bin/deno"),
      ["test", "-A", "--doc", ...files],
      { cwd: ROOT, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
  const summary = out.split("\n").find((l) => /^(ok|FAILED) \| \d+ passed/.test(l)) ?? "";
  assert.equal(code, 0, out.slice(-4000));
  const passed = Number(/\| (\d+) passed/.exec(summary)?.[1] ?? 0);
  assert.ok(passed >= 40, `examples run: ${summary}`);
});
