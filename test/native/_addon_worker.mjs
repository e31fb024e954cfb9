// Worker side of addon_workers.test.ts: loads the native module in this worker's own Node-API environment and
// runs the tiny Qwen3 decoder through it (a sync forward, the async generate() with its thread-safe callback,
// a NativeTensor argument check), several rounds so the workers overlap. Plain JavaScript, so Node runs it without a TypeScript
// loader and Deno as it is. workerData: { path, ckpt, config, ids, maxTokens, rounds }.
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";

const { path, ckpt, config, ids, maxTokens, rounds } = workerData;
const addon = createRequire(import.meta.url)(path);
const results = [];
for (let r = 0; r < rounds; r++) {
  const m = addon.loadModel(ckpt, config);
  const logits = m.forwardLogits(Int32Array.from(ids));
  m.reset();
  const streamed = [];
  const g = await m.generate({ ids: Int32Array.from(ids), maxTokens, onToken: (t) => streamed.push(t) });
  let notTensor = ""; // a plain object where a NativeTensor may go: the NativeTensor class check of this env
  try {
    m.forwardLogits(Int32Array.from(ids), null, { visualRows: Int32Array.of(0), embeds: {} });
  } catch (e) {
    notTensor = `${e.code}: ${e.message}`;
  }
  const info = m.info();
  m.free();
  results.push({
    logits,
    tokens: Array.from(g.tokens),
    streamed,
    ownClass: m instanceof addon.NativeQwen3Text,
    busy: info.busy,
    notTensor,
  });
}
parentPort.postMessage(results);
