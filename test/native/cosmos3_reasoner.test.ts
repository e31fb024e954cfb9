// The native Reasoner on a Cosmos 3 diffusers-layout checkpoint (test/fixtures/cosmos3-reasoner-tiny:
// qwen3vl-tiny's tensors under the diffusers names, a random generation tower that must not be read,
// the vision_encoder/ sidecar; tools/fixtures/make_cosmos3_reasoner_tiny.ts). The und tower is loaded
// through the rename map (no copy of the weights) and must give bit-identical logits to qwen3vl-tiny
// and the transformers 5.17 reference's greedy tokens (test/fixtures/qwen3vl-tiny-reference.json),
// for a text prompt and the reference image, through the session and through reason().
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { reason } from "../../src/api/reason.ts";
import { loadQwen3VLCheckpoint } from "../../src/checkpoint/mod.ts";
import { CheckpointError, NativeError } from "../../src/errors.ts";
import { prepareQwenImage } from "../../src/media/qwen_media.ts";
import { nativeTextConfigOf } from "../../src/native/config.ts";
import { NativeTextModel } from "../../src/native/model.ts";
import {
  closeQwen3VL,
  openQwen3VL,
  type PreparedPrompt,
  type Qwen3VLSession,
  type TemplateMessages,
} from "../../src/native/qwen3vl.ts";
import { f32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";

const FIX = fileURLToPath(new URL("../fixtures/", import.meta.url));
const QWEN = join(FIX, "qwen3vl-tiny");
const COSMOS = join(FIX, "cosmos3-reasoner-tiny");
interface RefCase {
  messages: TemplateMessages;
  input_ids: number[];
  greedy_ids: number[];
  media?: string;
}
const ref = JSON.parse(readFileSync(join(FIX, "qwen3vl-tiny-reference.json"), "utf8")) as {
  text_prompts: RefCase[];
  image: RefCase;
};
const st = readSafetensors(join(FIX, "qwen3vl-tiny-reference.safetensors"));
const processor = JSON.parse(readFileSync(join(QWEN, "processor_config.json"), "utf8")) as {
  image_processor: { size: { shortest_edge: number; longest_edge: number } };
};
const GREEDY = { temperature: 0, presence_penalty: 0, repetition_penalty: 1 };

after(async () => {
  await closeQwen3VL();
});

/** 16 greedy tokens from the session's decoder (no stop ids: the reference does not stop either). */
async function greedy16(s: Qwen3VLSession, p: PreparedPrompt): Promise<number[]> {
  const { ids, pos3, visual } = p;
  s.model.reset(); // start from an empty KV cache
  const r = await s.model.generate({
    ids: Int32Array.from(ids),
    pos3: Int32Array.from(pos3),
    maxTokens: 16,
    stopIds: [],
    sampling: { temperature: 0 },
    ...visual,
  });
  s.model.reset();
  return r.tokens;
}

describe("native Reasoner on the Cosmos 3 diffusers layout (CPU)", () => {
  test("text: the und tower read through the rename map gives qwen3vl-tiny's logits bit for bit", async () => {
    const ck = await loadQwen3VLCheckpoint(COSMOS);
    const c3 = await NativeTextModel.loadAsync(ck.weights.text, nativeTextConfigOf(ck.config.text));
    const qw = await NativeTextModel.loadAsync(QWEN);
    try {
      for (const p of ref.text_prompts) {
        const a = c3.forwardLogits(p.input_ids);
        const b = qw.forwardLogits(p.input_ids);
        assert.equal(maxAbsDiff(a, b), 0);
      }
      const p = ref.text_prompts[0];
      c3.reset(); // forwardLogits leaves its rows in the KV cache
      const g = await c3.generate({ ids: p.input_ids, maxTokens: 16, sampling: { temperature: 0 } });
      assert.deepEqual(g.tokens, p.greedy_ids.slice(0, g.tokens.length), "transformers' greedy tokens");
      assert.ok(g.tokens.length > 0);
    } finally {
      c3.free();
      qw.free();
    }
  });

  test("image: session prompt, visual rows and logits equal qwen3vl-tiny's and transformers' reference", async () => {
    const c = ref.image;
    const s = processor.image_processor.size;
    const { image } = await prepareQwenImage(join(FIX, c.media!), {
      minPixels: s.shortest_edge,
      maxPixels: s.longest_edge,
    });
    const c3 = await openQwen3VL(COSMOS);
    const qw = await openQwen3VL(QWEN);
    assert.equal(c3.checkpoint.layout, "cosmos3-diffusers");
    const pc = await c3.prepare(c.messages, { images: [{ frames: [image] }] });
    const pq = await qw.prepare(c.messages, { images: [{ frames: [image] }] });
    assert.deepEqual(Array.from(pc.ids), c.input_ids);
    assert.deepEqual(Array.from(pc.pos3), Array.from(pq.pos3));
    const lc = c3.model.forwardLogits(pc.ids, pc.pos3, pc.visual);
    const lq = qw.model.forwardLogits(pq.ids, pq.pos3, pq.visual);
    assert.equal(maxAbsDiff(lc, lq), 0, "same vision tower and decoder weights: identical logits");
    const dRef = maxAbsDiff(lc, f32(st.get("image.logits")));
    assert.ok(dRef <= 1e-3, `logits vs transformers: max-abs-diff ${dRef}`);
    assert.deepEqual(await greedy16(c3, pc), c.greedy_ids);
  });

  test("reason() with the Cosmos 3 folder as backend answers as with qwen3vl-tiny (text and image)", async () => {
    const [system, user] = ref.text_prompts[0].messages;
    const textOf = (m: TemplateMessages[number]) =>
      typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => ("text" in p ? p.text : "")).join("");
    const req = {
      task: "custom" as const,
      system: textOf(system),
      prompt: textOf(user),
      sampling: GREEDY,
      maxTokens: 12,
    };
    const a = await reason(req, { backend: COSMOS });
    const b = await reason(req, { backend: QWEN });
    assert.equal(a.text, b.text);
    assert.deepEqual(a.usage, b.usage);
    const img = { ...req, image: join(FIX, ref.image.media!) };
    const ai = await reason(img, { backend: COSMOS });
    const bi = await reason(img, { backend: QWEN });
    assert.equal(ai.text, bi.text);
    assert.deepEqual(ai.usage, bi.usage);
    assert.ok((ai.usage?.promptTokens ?? 0) > (a.usage?.promptTokens ?? 0), "the image's tokens are in the prompt");
  });

  test("the generation tower is not read; a missing und tensor is named", async () => {
    const ck = await loadQwen3VLCheckpoint(COSMOS);
    const weights = ck.weights.text;
    assert.ok(typeof weights === "object");
    const renames = { ...weights.renames };
    delete renames["layers.1.mlp.down_proj.weight"];
    await assert.rejects(
      NativeTextModel.loadAsync({ files: weights.files, renames }, nativeTextConfigOf(ck.config.text)),
      (e: unknown) =>
        (e instanceof CheckpointError || e instanceof NativeError) &&
        /model\.language_model\.layers\.1\.mlp\.down_proj\.weight/.test((e as Error).message),
    );
    await assert.rejects(
      NativeTextModel.loadAsync(
        { files: weights.files, renames: { ...renames, "no.such.tensor": "x" } },
        nativeTextConfigOf(ck.config.text),
      ),
      (e: unknown) => /no tensor 'no\.such\.tensor' \(read as 'x'\)/.test((e as Error).message),
    );
  });
});
