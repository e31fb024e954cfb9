// The native Qwen3 text decoder (CPU backend, fp32) against transformers 5.17's
// Qwen3VLForConditionalGeneration on the tiny random checkpoint (test/fixtures/qwen3vl-tiny):
// prefill logits (max-abs-diff <= 1e-3), 32 greedy steps through the KV cache (ids identical to the
// reference, which transformers computed by full recompute), the async generate() path, and the
// multimodal hook (vision embeddings + deepstack features at the visual rows, 3D positions).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { NativeTextModel } from "../../src/native/mod.ts";
import { argmax, CKPT, maxAbsDiff, reference, referenceTensors, tensor } from "./_reference.ts";

const ref = reference();
const T = referenceTensors();
let m: NativeTextModel;

before(() => {
  m = NativeTextModel.load(CKPT);
});
after(() => m.free());

function greedy(first: Float32Array, steps: number, refLogits: Float32Array): { ids: number[]; maxDiff: number } {
  const vocab = first.length;
  let logits = first;
  const ids: number[] = [];
  let maxDiff = 0;
  for (let s = 0; s < steps; s++) {
    maxDiff = Math.max(maxDiff, maxAbsDiff(logits, refLogits.subarray(s * vocab, (s + 1) * vocab)));
    const id = argmax(logits);
    ids.push(id);
    if (s + 1 < steps) logits = m.decode(id);
  }
  return { ids, maxDiff };
}

describe("Qwen3 text decoder (CPU) vs transformers", () => {
  ref.text_prompts.forEach((p, i) => {
    test(`text prompt ${i} (${p.input_ids.length} tokens): prefill logits and 32 greedy steps`, () => {
      const all = m.forwardLogits(p.input_ids);
      const d = maxAbsDiff(all, tensor(T, `text.${i}.logits`));
      assert.ok(d <= 1e-3, `prefill max-abs-diff ${d}`);

      m.reset();
      const last = m.prefill(p.input_ids);
      assert.equal(m.info().nPast, p.input_ids.length);
      const g = greedy(last, 32, tensor(T, `text.${i}.greedy_logits`));
      assert.deepEqual(g.ids, p.greedy_ids);
      assert.ok(g.maxDiff <= 1e-3, `greedy-step logits max-abs-diff ${g.maxDiff}`);
      console.log(
        `text.${i}: prefill max-abs-diff ${d.toExponential(2)}, greedy-step logits ${g.maxDiff.toExponential(2)}`,
      );
    });
  });

  test("generate(): greedy on a worker thread, tokens streamed in order through onToken", async () => {
    const p = ref.text_prompts[1];
    m.reset();
    const streamed: number[] = [];
    const r = await m.generate({ ids: p.input_ids, maxTokens: 32, onToken: (t) => streamed.push(t) });
    assert.deepEqual(r.tokens, p.greedy_ids);
    assert.deepEqual(streamed, p.greedy_ids);
    assert.equal(r.stopReason, "length");
    assert.equal(m.info().busy, false);
  });

  test("generate(): a stop id ends generation and is included", async () => {
    const p = ref.text_prompts[0];
    const stop = p.greedy_ids[5];
    const firstAt = p.greedy_ids.indexOf(stop);
    m.reset();
    const r = await m.generate({ ids: p.input_ids, maxTokens: 32, stopIds: [stop] });
    assert.deepEqual(r.tokens, p.greedy_ids.slice(0, firstAt + 1));
    assert.equal(r.stopReason, "stop");
  });

  test("sampling with a seed is reproducible and differs from greedy", async () => {
    const p = ref.text_prompts[2];
    const run = async () => {
      m.reset();
      return (await m.generate({
        ids: p.input_ids,
        maxTokens: 24,
        sampling: { temperature: 1.5, topP: 0.95, topK: 50, seed: 1234 },
      })).tokens;
    };
    const a = await run();
    const b = await run();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, p.greedy_ids.slice(0, 24));
  });

  for (const kind of ["image", "video"] as const) {
    test(`${kind} prompt: vision embeddings + deepstack at the visual rows, 3D positions, greedy decode`, () => {
      const p = ref[kind];
      const padId = kind === "image" ? 1412 : 1413;
      const rows = p.input_ids.flatMap((id, i) => (id === padId ? [i] : []));
      const pos3 = Int32Array.from(p.position_ids.flat());
      const opts = {
        visualRows: Int32Array.from(rows),
        embeds: tensor(T, `${kind}.vision_embeds`),
        deepstack: [tensor(T, `${kind}.deepstack.0`), tensor(T, `${kind}.deepstack.1`)],
      };
      assert.equal(opts.embeds.length, rows.length * 64);
      const all = m.forwardLogits(p.input_ids, pos3, opts);
      const d = maxAbsDiff(all, tensor(T, `${kind}.logits`));
      assert.ok(d <= 1e-3, `prefill max-abs-diff ${d}`);

      m.reset();
      const last = m.prefill(p.input_ids, pos3, opts);
      // Decoding continues at max(position) + 1 (transformers' rope_deltas), not at the token count.
      assert.equal(m.info().nextPos, Math.max(...p.position_ids.flat()) + 1);
      const g = greedy(last, p.greedy_ids.length, tensor(T, `${kind}.greedy_logits`));
      assert.deepEqual(g.ids, p.greedy_ids);
      console.log(
        `${kind}: prefill max-abs-diff ${d.toExponential(2)}, greedy-step logits ${g.maxDiff.toExponential(2)}`,
      );
    });
  }
});
