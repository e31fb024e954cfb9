// Full multimodal fidelity of the native engine (CPU) against transformers 5.17 on the tiny random
// Qwen3-VL checkpoint (test/fixtures/qwen3vl-tiny*): the vision tower through the addon, the decoder's
// prefill with visual rows + deepstack features, prefill logits (<= 1e-3) and 16 greedy tokens, for the
// image and the video prompt; then the same from the raw media files through src/media,
// src/chat_template, src/tokenizer and src/multimodal.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { f32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";
import { loadVisionTower, type NativeVisionTower, toVisualInputs } from "../../src/native/vision.ts";
import { NativeTextModel } from "../../src/native/model.ts";
import { applyChatTemplate, loadChatTemplate } from "../../src/chat_template/mod.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { prepareQwenImage } from "../../src/media/qwen_media.ts";
import { readImage } from "../../src/media/images.ts";
import { qwenVideoPlan } from "../../src/media/qwen_vision.ts";
import { buildMultimodalPrompt, type MultimodalPrompt } from "../../src/multimodal/mod.ts";

const FIX = fileURLToPath(new URL("../fixtures/", import.meta.url));
const CKPT = join(FIX, "qwen3vl-tiny");
const config = JSON.parse(readFileSync(join(CKPT, "config.json"), "utf8")) as {
  image_token_id: number;
  video_token_id: number;
  vision_start_token_id: number;
  vision_end_token_id: number;
  text_config: { vocab_size: number };
};
const processor = JSON.parse(readFileSync(join(CKPT, "processor_config.json"), "utf8")) as {
  image_processor: { size: { shortest_edge: number; longest_edge: number } };
  video_processor: { size: { shortest_edge: number; longest_edge: number }; fps: number };
};
interface RefCase {
  messages: unknown[];
  text: string;
  input_ids: number[];
  grid_thw: [number, number, number][];
  position_ids: number[][];
  pixel_values_tensor: string;
  greedy_ids: number[];
  media: string | string[];
  video_fps?: number;
}
const ref = JSON.parse(readFileSync(join(FIX, "qwen3vl-tiny-reference.json"), "utf8")) as Record<
  "image" | "video",
  RefCase
>;
const st = readSafetensors(join(FIX, "qwen3vl-tiny-reference.safetensors"));
const V = config.text_config.vocab_size;
const tokenIds = {
  imageTokenId: config.image_token_id,
  videoTokenId: config.video_token_id,
  visionStartTokenId: config.vision_start_token_id,
  visionEndTokenId: config.vision_end_token_id,
};

function argmax(x: Float32Array): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}

function padRows(ids: ArrayLike<number>): Int32Array {
  const rows: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === config.image_token_id || ids[i] === config.video_token_id) rows.push(i);
  }
  return Int32Array.from(rows);
}

let tower: NativeVisionTower;
let model: NativeTextModel;

before(async () => {
  tower = await loadVisionTower(CKPT);
  model = NativeTextModel.load(CKPT);
});
after(() => {
  tower?.free();
  model?.free();
});

/** Tower + prefill logits + greedy tokens from ids, positions [3][n] and pixel values; returns diffs. */
async function runCase(
  kind: "image" | "video",
  ids: Int32Array,
  pos3: Int32Array,
  rows: Int32Array,
  pv: Float32Array,
  grids: [number, number, number][],
) {
  const out = await tower.run(pv, grids);
  const dEmb = maxAbsDiff(await out.embeds.toHost(), f32(st.get(`${kind}.vision_embeds`)));
  const dDs: number[] = [];
  for (const [k, d] of out.deepstack.entries()) {
    dDs.push(maxAbsDiff(await d.toHost(), f32(st.get(`${kind}.deepstack.${k}`))));
  }
  const vis = toVisualInputs(rows, out); // the tower's tensors, read in place by the decoder
  const logits = model.forwardLogits(ids, pos3, vis);
  const refLogits = f32(st.get(`${kind}.logits`));
  assert.equal(logits.length, ids.length * V);
  const dLogits = maxAbsDiff(logits, refLogits);

  // Greedy: prefill, then decode (positions continue from max position + 1, as transformers' rope_deltas).
  model.reset();
  let last = model.prefill(ids, pos3, vis);
  const greedy: number[] = [];
  for (let s = 0; s < 16; s++) {
    const t = argmax(last);
    greedy.push(t);
    if (s < 15) last = model.decode(t);
  }
  model.reset();
  return { dEmb, dDs, dLogits, greedy, vis };
}

function pos3Of(positions: number[][]) {
  return Int32Array.from(positions.flat());
}

describe("native Qwen3-VL (CPU) vs transformers 5.17, multimodal", () => {
  for (const kind of ["image", "video"] as const) {
    test(`${kind}: tower, prefill logits <= 1e-3 and 16 greedy tokens from the reference ids, positions and pixels`, async () => {
      const c = ref[kind];
      const ids = Int32Array.from(c.input_ids);
      const r = await runCase(
        kind,
        ids,
        pos3Of(c.position_ids),
        padRows(ids),
        f32(st.get(c.pixel_values_tensor)),
        c.grid_thw,
      );
      console.log(
        `${kind}: embeds ${r.dEmb.toExponential(2)}, deepstack ${
          r.dDs.map((d) => d.toExponential(2)).join("/")
        }, logits ${r.dLogits.toExponential(2)}`,
      );
      assert.ok(r.dEmb <= 1e-3, `embeds max-abs-diff ${r.dEmb}`);
      r.dDs.forEach((d, k) => assert.ok(d <= 1e-3, `deepstack ${k} max-abs-diff ${d}`));
      assert.ok(r.dLogits <= 1e-3, `logits max-abs-diff ${r.dLogits}`);
      assert.deepEqual(r.greedy, c.greedy_ids);

      // The same through generate() (worker thread, temperature 0, no stop ids) with the visual inputs.
      const g = await model.generate({
        ids,
        pos3: pos3Of(c.position_ids),
        maxTokens: 16,
        stopIds: [],
        sampling: { temperature: 0 },
        ...r.vis,
      });
      assert.deepEqual(g.tokens, c.greedy_ids);
      model.reset();
    });
  }

  /** The reference prompt rebuilt from the media files: template, tokenizer, media, multimodal. */
  async function fromMedia(kind: "image" | "video"): Promise<MultimodalPrompt> {
    const c = ref[kind];
    const template = await loadChatTemplate(CKPT);
    const text = applyChatTemplate(template, c.messages, { addGenerationPrompt: true });
    assert.equal(text, c.text);
    const tok = await loadTokenizer(CKPT);
    if (kind === "image") {
      const s = processor.image_processor.size;
      const { image } = await prepareQwenImage(join(FIX, c.media as string), {
        minPixels: s.shortest_edge,
        maxPixels: s.longest_edge,
      });
      return buildMultimodalPrompt({ text, images: [{ frames: [image] }], tokenize: (t) => tok.encode(t), tokenIds });
    }
    const files = c.media as string[];
    const frames = await Promise.all(files.map((f) => readImage(join(FIX, f))));
    const s = processor.video_processor.size;
    const plan = qwenVideoPlan(
      { totalFrames: frames.length, fps: c.video_fps, height: frames[0].height, width: frames[0].width },
      { fps: processor.video_processor.fps },
      { minPixels: s.shortest_edge, maxPixels: s.longest_edge },
    );
    assert.equal(plan.width, frames[0].width, "the fixture's frames need no resize");
    assert.equal(plan.height, frames[0].height, "the fixture's frames need no resize");
    return buildMultimodalPrompt({
      text,
      videos: [{ frames: plan.indices.map((i) => frames[i]), timestamps: plan.timestamps }],
      tokenize: (t) => tok.encode(t),
      tokenIds,
      videoWrap: "keep", // transformers 5.17 keeps the outer <|vision_start|> (the reference was made with it)
    });
  }

  for (const kind of ["image", "video"] as const) {
    test(`${kind} from the media files: same ids, positions and pixels; logits <= 1e-3; same greedy tokens`, async () => {
      const c = ref[kind];
      const p = await fromMedia(kind);
      assert.deepEqual(Array.from(p.inputIds), c.input_ids);
      assert.deepEqual(p.grids, c.grid_thw);
      const L = p.inputIds.length;
      assert.deepEqual([0, 1, 2].map((a) => Array.from(p.rope.positions.subarray(a * L, (a + 1) * L))), c.position_ids);
      const dPix = maxAbsDiff(p.pixelValues, f32(st.get(c.pixel_values_tensor)));
      const r = await runCase(kind, p.inputIds, p.rope.positions, p.visualRowPositions, p.pixelValues, p.grids);
      console.log(`${kind} from media: pixels ${dPix.toExponential(2)}, logits ${r.dLogits.toExponential(2)}`);
      assert.ok(dPix <= 1e-5, `pixel_values max-abs-diff ${dPix}`);
      assert.ok(r.dLogits <= 1e-3, `logits max-abs-diff ${r.dLogits}`);
      assert.deepEqual(r.greedy, c.greedy_ids);
    });
  }
});
