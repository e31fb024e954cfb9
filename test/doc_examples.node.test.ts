// The JSDoc examples of src/ and kernel/ are tests (`deno test --doc`): each ```ts block is
// type-checked and run against the real modules, the native engine with the tiny fixture checkpoint,
// and the repository's assets, so an example that no longer compiles or no longer runs fails here.
// Examples that call a running Cosmos server (the remote clients and the top-level calls with an
// http backend) or read a downloaded checkpoint are type-checked only: TYPE_CHECK_ONLY lists them with
// the reason, and a module leaves the list as soon as its examples can run here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

const SERVER = "a server at 127.0.0.1:8000 (or a job id from one)";
/** Modules whose examples need what is not here, and what. */
const TYPE_CHECK_ONLY = new Map([
  ["src/mod.ts", SERVER],
  ["src/api/generate.ts", SERVER],
  ["src/api/reason.ts", SERVER],
  ["src/api/rollout.ts", SERVER],
  ["src/remote/generator_client.ts", SERVER],
  ["src/remote/http.ts", SERVER],
  ["src/remote/jobs.ts", SERVER],
  ["src/remote/mod.ts", SERVER],
  ["src/remote/reasoner_client.ts", SERVER],
  ["src/remote/rollout_client.ts", SERVER],
  ["src/generator/config.ts", "a downloaded Cosmos 3 checkpoint (/models/Cosmos3-Nano)"],
]);

/** Every .ts module under `dir` that has a ```ts example. */
function modulesWithExamples(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...modulesWithExamples(rel));
    else if (name.endsWith(".ts") && readFileSync(join(ROOT, rel), "utf8").includes("```ts")) out.push(rel);
  }
  return out.sort();
}

function deno(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      join(ROOT, "node_modules/.bin/deno"),
      args,
      { cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) =>
        // stderr ("Check …" lines) first: the results and their errors are at the end of stdout.
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stderr + stdout }),
    );
  });
}

const all = [...modulesWithExamples("src"), ...modulesWithExamples("kernel")];

test("the type-check-only list names modules with examples", () => {
  for (const m of TYPE_CHECK_ONLY.keys()) assert.ok(all.includes(m), `${m} has no examples (any more)`);
  assert.ok(all.length >= 100, `${all.length} modules with examples`);
});

test("every JSDoc example in src/ and kernel/ runs (deno test --doc); the type-check-only ones compile", {
  timeout: 1_200_000,
}, async () => {
  const run = all.filter((m) => !TYPE_CHECK_ONLY.has(m));
  const [ran, checked] = await Promise.all([
    // Sequential, as it was timed. --parallel no longer panics Deno (the addon keeps no JS handles in statics since
    // b29c584: test/native/addon_workers.test.ts); a --parallel run of every src/ and kernel/ example passed.
    deno(["test", "-A", "--doc", ...run]),
    deno(["test", "-A", "--doc", "--no-run", ...TYPE_CHECK_ONLY.keys()]),
  ]);
  const failed = (out: string) =>
    [...new Set(out.split("\n").filter((l) => / \.\.\. FAILED/.test(l)).map((l) => l.split(" ")[0]))]
      .map((u) => relative(ROOT, fileURLToPath(u.replace(/#.*/, ""))) + u.replace(/^[^#]*/, ""));
  assert.equal(checked.code, 0, `type check of the type-check-only examples:\n${checked.out.slice(-4000)}`);
  assert.equal(ran.code, 0, `examples that failed: ${failed(ran.out).join(", ")}\n${ran.out.slice(-6000)}`);
  const summary = ran.out.split("\n").find((l) => /^(ok|FAILED) \| \d+ passed/.test(l)) ?? "";
  const passed = Number(/\| (\d+) passed/.exec(summary)?.[1] ?? 0);
  assert.ok(passed >= 250, `examples run: ${summary}`); // 305 ```ts blocks when this was written
});
