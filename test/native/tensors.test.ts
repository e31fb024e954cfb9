// Device-resident tensors (issue 11 item 4), CPU backend, tiny Qwen3-VL fixture: the vision tower's run
// returns NativeTensor handles that the decoder reads in place.
//  - tower -> decoder with handles gives transformers' greedy tokens (the reference's image and video
//    prompts), and bit-identical logits to the old path (host copies, rows sorted ascending and the
//    arrays permuted to match, as toVisualInputs did before);
//  - toHost() is what the decoder reads (the host copies above are made with it) and matches
//    transformers' tower outputs;
//  - a disposed handle, and a handle whose tower was freed or whose session closed, is a NativeError
//    (native code TENSOR_FREED) for toHost() and for the decoder; visualRows must be unique;
//  - memory: a handle's bytes count in nativeMemory() and V8's external memory while it lives, and
//    everything is back at the baseline after dispose / free / closeNative().
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NativeError, ValidationError } from "../../src/errors.ts";
import { prepareQwenImage } from "../../src/media/qwen_media.ts";
import {
  closeNative,
  loadVisionTower,
  nativeMemory,
  NativeTensor,
  NativeTextModel,
  openQwen3VL,
  toVisualInputs,
} from "../../src/native/mod.ts";
import { nativeCode } from "../../src/native/errors.ts";
import { f32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";
import { CKPT, FIXTURES } from "./_reference.ts";

const config = JSON.parse(readFileSync(join(CKPT, "config.json"), "utf8")) as {
  image_token_id: number;
  video_token_id: number;
};
interface RefCase {
  input_ids: number[];
  position_ids: number[][];
  grid_thw: [number, number, number][];
  pixel_values_tensor: string;
  greedy_ids: number[];
}
const ref = JSON.parse(readFileSync(join(FIXTURES, "qwen3vl-tiny-reference.json"), "utf8")) as Record<
  "image" | "video",
  RefCase
>;
const st = readSafetensors(join(FIXTURES, "qwen3vl-tiny-reference.safetensors"));

after(() => closeNative());

function padRows(ids: readonly number[]): Int32Array {
  return Int32Array.from(
    ids.flatMap((t, i) => (t === config.image_token_id || t === config.video_token_id ? [i] : [])),
  );
}

/** The old host path: rows ascending, arrays permuted to match (what toVisualInputs did before tensors). */
function sortedHostInputs(rows: Int32Array, embeds: Float32Array, deepstack: Float32Array[], D: number) {
  const order = Array.from(rows.keys()).sort((a, b) => rows[a] - rows[b]);
  const permute = (src: Float32Array) => {
    const dst = new Float32Array(src.length);
    order.forEach((from, to) => dst.set(src.subarray(from * D, (from + 1) * D), to * D));
    return dst;
  };
  return {
    visualRows: Int32Array.from(order, (i) => rows[i]),
    embeds: permute(embeds),
    deepstack: deepstack.map(permute),
  };
}

function bitEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length &&
    Buffer.compare(
        Buffer.from(a.buffer, a.byteOffset, a.byteLength),
        Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      ) === 0;
}

function isTensorFreed(e: unknown): boolean {
  return e instanceof NativeError && nativeCode(e.cause) === "TENSOR_FREED";
}

describe("native tensors (CPU)", () => {
  for (const kind of ["image", "video"] as const) {
    test(`${kind}: tower -> decoder with handles = transformers' greedy tokens, logits bit-identical to host copies`, async () => {
      const before = await baselineBytes();
      const c = ref[kind];
      const tower = await loadVisionTower(CKPT);
      const model = NativeTextModel.load(CKPT);
      try {
        const out = await tower.run(f32(st.get(c.pixel_values_tensor)), c.grid_thw);
        assert.equal(out.embeds.device, "cpu");
        assert.equal(out.embeds.dtype, "f32");
        assert.deepEqual(out.embeds.shape, [out.tokens, out.outDim]);
        assert.equal(out.embeds.bytes, out.tokens * out.outDim * 4);
        // The handles' bytes are native memory (host on the CPU backend).
        const weights = tower.info().weightBytes! + model.info().externalBytes;
        const handles = out.embeds.bytes + out.deepstack.reduce((n, d) => n + d.bytes, 0);
        assert.equal(nativeMemory().bytesInUse - before, weights + handles);

        const ids = Int32Array.from(c.input_ids);
        const pos3 = Int32Array.from(c.position_ids.flat());
        const rows = padRows(c.input_ids);
        const vis = toVisualInputs(rows, out);
        assert.equal(vis.embeds, out.embeds, "the tensor itself goes to the decoder");

        // toHost: transformers' tower outputs, and (below) exactly what the decoder reads.
        const embeds = await out.embeds.toHost();
        const deepstack = await Promise.all(out.deepstack.map((d) => d.toHost()));
        assert.ok(maxAbsDiff(embeds, f32(st.get(`${kind}.vision_embeds`))) <= 1e-3);
        deepstack.forEach((d, k) => assert.ok(maxAbsDiff(d, f32(st.get(`${kind}.deepstack.${k}`))) <= 1e-3));
        assert.ok(bitEqual(embeds, await out.embeds.toHost()), "toHost twice: the same bits");

        const withHandles = model.forwardLogits(ids, pos3, vis);
        const withHost = model.forwardLogits(ids, pos3, sortedHostInputs(rows, embeds, deepstack, out.outDim));
        assert.ok(bitEqual(withHandles, withHost), "handles and the old host path give the same logits, bit for bit");

        model.reset();
        const g = await model.generate({ ids, pos3, maxTokens: 16, sampling: { temperature: 0 }, ...vis });
        assert.deepEqual(g.tokens, c.greedy_ids);
        model.reset();
      } finally {
        tower.free();
        model.free();
      }
      assert.equal(nativeMemory().bytesInUse, before, "tower, decoder and handles all gone");
    });
  }

  test("visualRows in any order (each row once): rows reversed with the arrays reversed give the same logits", async () => {
    const c = ref.image;
    const tower = await loadVisionTower(CKPT);
    const model = NativeTextModel.load(CKPT);
    try {
      const out = await tower.run(f32(st.get(c.pixel_values_tensor)), c.grid_thw);
      const ids = Int32Array.from(c.input_ids);
      const pos3 = Int32Array.from(c.position_ids.flat());
      const rows = padRows(c.input_ids);
      const D = out.outDim;
      const reverse = (a: Float32Array) => {
        const r = new Float32Array(a.length);
        for (let i = 0; i < out.tokens; i++) r.set(a.subarray(i * D, (i + 1) * D), (out.tokens - 1 - i) * D);
        return r;
      };
      const embeds = await out.embeds.toHost();
      const deepstack = await Promise.all(out.deepstack.map((d) => d.toHost()));
      const a = model.forwardLogits(ids, pos3, toVisualInputs(rows, out));
      const b = model.forwardLogits(ids, pos3, {
        visualRows: rows.slice().reverse(),
        embeds: reverse(embeds),
        deepstack: deepstack.map(reverse),
      });
      assert.ok(bitEqual(a, b));
      const twice = Int32Array.from([rows[0], ...rows.subarray(0, rows.length - 1)]);
      assert.throws(
        () => model.forwardLogits(ids, pos3, { visualRows: twice, embeds: out.embeds, deepstack: out.deepstack }),
        (e: unknown) => e instanceof ValidationError && /unique/.test(e.message),
      );
    } finally {
      tower.free();
      model.free();
    }
  });

  test("a disposed handle is a NativeError for toHost() and for the decoder; dispose() is idempotent", async () => {
    const before = await baselineBytes();
    const c = ref.image;
    const tower = await loadVisionTower(CKPT);
    const model = NativeTextModel.load(CKPT);
    try {
      const out = await tower.run(f32(st.get(c.pixel_values_tensor)), c.grid_thw);
      // V8's external figure also counts ArrayBuffers, so only differences with no allocation between are exact.
      const withHandle = nativeMemory().v8ExternalBytes;
      out.embeds.dispose();
      out.embeds.dispose();
      assert.equal(
        withHandle - nativeMemory().v8ExternalBytes,
        out.embeds.bytes,
        "V8 is told the handle's bytes back, once",
      );
      assert.equal(out.embeds.disposed, true);
      assert.equal(out.deepstack[0].disposed, false);
      await assert.rejects(out.embeds.toHost(), isTensorFreed);
      const ids = Int32Array.from(c.input_ids);
      const pos3 = Int32Array.from(c.position_ids.flat());
      const vis = toVisualInputs(padRows(c.input_ids), out);
      assert.throws(() => model.forwardLogits(ids, pos3, vis), isTensorFreed);
      await assert.rejects(model.generate({ ids, pos3, maxTokens: 2, ...vis }), isTensorFreed);
      assert.ok(!model.info().busy, "the refused call left the model free");
    } finally {
      tower.free();
      model.free();
    }
    assert.equal(nativeMemory().bytesInUse, before);
  });

  test("handles of a freed tower or a closed session are NativeErrors; memory back at the baseline", async () => {
    const before = await baselineBytes();
    const tower = await loadVisionTower(CKPT);
    const out = await tower.run(f32(st.get(ref.image.pixel_values_tensor)), ref.image.grid_thw);
    tower.free();
    assert.equal(out.embeds.disposed, true, "freeing the tower releases its outputs");
    await assert.rejects(out.deepstack[1].toHost(), isTensorFreed);
    assert.equal(nativeMemory().bytesInUse, before);

    const s = await openQwen3VL(CKPT);
    const { image } = await prepareQwenImage(join(FIXTURES, "qwen3vl-tiny-media/image.png"), {});
    const p = await s.prepare([{ role: "user", content: [{ type: "image" }, { type: "text", text: "Hi" }] }], {
      images: [{ frames: [image] }],
    });
    const embeds = p.visual.embeds;
    assert.ok(embeds instanceof NativeTensor);
    assert.ok(nativeMemory().bytesInUse > before);
    await s.free();
    assert.equal(embeds.disposed, true);
    await assert.rejects(embeds.toHost(), isTensorFreed);
    const m = NativeTextModel.load(CKPT);
    try {
      assert.throws(() => m.forwardLogits(p.ids, p.pos3, p.visual), isTensorFreed);
    } finally {
      m.free();
    }
    p.dispose(); // nothing left to free: idempotent
    assert.equal(nativeMemory().bytesInUse, before);
  });

  test("a prepared prompt's dispose() frees its tensors; a second session's prompt runs after it", async () => {
    const before = await baselineBytes();
    const s = await openQwen3VL(CKPT);
    const { image } = await prepareQwenImage(join(FIXTURES, "qwen3vl-tiny-media/image.png"), {});
    const msgs = [{
      role: "user" as const,
      content: [{ type: "image" as const }, { type: "text" as const, text: "Hi" }],
    }];
    const p1 = await s.prepare(msgs, { images: [{ frames: [image] }] });
    const r1 = await s.generate(p1, { maxTokens: 6, sampling: { temperature: 0 } });
    const loaded = nativeMemory().bytesInUse;
    p1.dispose();
    const visualBytes = (p1.visual.embeds as NativeTensor).bytes * 3;
    assert.equal(nativeMemory().bytesInUse, loaded - visualBytes, "the prompt's embeds and 2 deepstack tensors freed");
    const p2 = await s.prepare(msgs, { images: [{ frames: [image] }] });
    const r2 = await s.generate(p2, { maxTokens: 6, sampling: { temperature: 0 } });
    assert.deepEqual(r2.tokens, r1.tokens);
    await closeNative();
    assert.equal(nativeMemory().bytesInUse, before);
  });
});

/** Native bytes with nothing loaded. */
async function baselineBytes(): Promise<number> {
  await closeNative();
  return nativeMemory().bytesInUse;
}
