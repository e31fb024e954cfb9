// The native module in several Node-API environments at once: the main thread and two worker_threads load it
// together and each runs the tiny Qwen3 decoder (sync forward, async generate() with its thread-safe callback, a
// NativeTensor argument check), while the main thread runs it too; then the workers' environments are torn down
// and the main thread's model and a fresh worker still work. Node-API calls Init once per environment of one
// loaded library, so any JS handle kept in a C++ static belongs to whichever environment ran Init last: before
// the constructors moved to per-environment instance data (native/src/binding/addon_data.h), this crashed Deno
// (`deno test --parallel`: "attempt to use Handle in an Isolate that is not its host"). References: the
// transformers logits and greedy ids of the qwen3vl-tiny fixture.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { addonPath, nativeTextConfig, NativeTextModel, readCheckpointConfig } from "../../src/native/mod.ts";
import { CKPT, maxAbsDiff, reference, referenceTensors, tensor } from "./_reference.ts";

const ref = reference();
const T = referenceTensors();
const prompt = ref.text_prompts[0];
const refLogits = tensor(T, "text.0.logits");
const config = nativeTextConfig(readCheckpointConfig(CKPT));

interface WorkerRound {
  logits: Float32Array;
  tokens: number[];
  streamed: number[];
  ownClass: boolean;
  busy: boolean;
  notTensor: string;
}

/** Runs test/native/_addon_worker.mjs: `rounds` load / forward / generate / free cycles in a new environment. */
function inWorker(rounds: number): Promise<WorkerRound[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./_addon_worker.mjs", import.meta.url), {
      workerData: { path: addonPath(), ckpt: CKPT, config, ids: prompt.input_ids, maxTokens: 32, rounds },
    });
    let got: WorkerRound[] | undefined;
    w.once("message", (m: WorkerRound[]) => (got = m));
    w.once("error", reject);
    w.once("exit", (code) => (code === 0 && got ? resolve(got) : reject(new Error(`worker exited with ${code}`))));
  });
}

function checkRound(r: WorkerRound, where: string): void {
  const d = maxAbsDiff(r.logits, refLogits);
  assert.ok(d <= 1e-3, `${where}: logits max-abs-diff ${d}`);
  assert.deepEqual(r.tokens, prompt.greedy_ids, `${where}: greedy tokens`);
  assert.deepEqual(r.streamed, prompt.greedy_ids, `${where}: streamed tokens`);
  assert.ok(r.ownClass, `${where}: the model is an instance of this environment's NativeQwen3Text`);
  assert.equal(r.busy, false);
  assert.match(r.notTensor, /^ARGUMENT: embeds must be a Float32Array or a NativeTensor/, where);
}

describe("native module in several environments (worker_threads)", () => {
  test("two workers and the main thread run the decoder at once; the main model outlives the workers", async () => {
    const main = NativeTextModel.load(CKPT);
    try {
      const workers = Promise.all([inWorker(3), inWorker(3)]);
      // The main thread's environment works while the workers load and run.
      const mainGen = await main.generate({ ids: prompt.input_ids, maxTokens: 32 });
      assert.deepEqual(mainGen.tokens, prompt.greedy_ids, "main thread during the workers");
      const rounds = await workers;
      rounds.forEach((rs, w) => rs.forEach((r, i) => checkRound(r, `worker ${w} round ${i}`)));
      // Both workers' environments are gone (their instance data finalised): the main model still runs, and a
      // model loaded now is made by this environment's class (a static handle would be a dead worker's).
      main.reset();
      const d = maxAbsDiff(main.forwardLogits(prompt.input_ids), refLogits);
      assert.ok(d <= 1e-3, `main after the workers: max-abs-diff ${d}`);
      const again = NativeTextModel.load(CKPT);
      try {
        const d2 = maxAbsDiff(again.forwardLogits(prompt.input_ids), refLogits);
        assert.ok(d2 <= 1e-3, `a main-thread model loaded after the workers: max-abs-diff ${d2}`);
      } finally {
        again.free();
      }
      // And a new environment initialises the module again.
      checkRound((await inWorker(1))[0], "a later worker");
    } finally {
      main.free();
    }
  });
});
