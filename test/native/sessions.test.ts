// Sessions of the native engine (issue 11 items 5 and 6), CPU, tiny Qwen3-VL fixture:
//  - concurrent image reason() calls on one checkpoint queue instead of failing with BUSY, and give
//    the text of sequential calls;
//  - `dir`, `dir/` and `a/../dir` are one load;
//  - [Symbol.asyncDispose] frees (native bytes back to the baseline, V8's external memory too) and a
//    disposed session refuses calls with a NativeError; closeNative() frees lone models as well;
//  - aborting a queued call takes it out of the queue and rejects it at once;
//  - the addon's abiVersion is checked; info() is parsed with its schema (hostPinnedBytes kept);
//    the config object C++ takes is checked again there.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import process from "node:process";
import { reason } from "../../src/api/reason.ts";
import { AbortError, CheckpointError, NativeError } from "../../src/errors.ts";
import { prepareQwenImage } from "../../src/media/qwen_media.ts";
import {
  ADDON_ABI_VERSION,
  checkAbi,
  closeNative,
  fromNative,
  loadAddon,
  loadVisionTower,
  nativeMemory,
  NativeTensor,
  nativeTextConfig,
  NativeTextModel,
  NativeVisionInfo,
  openQwen3VL,
  readCheckpointConfig,
  RunQueue,
} from "../../src/native/mod.ts";
import { CKPT, FIXTURES } from "./_reference.ts";

const IMAGE = join(FIXTURES, "qwen3vl-tiny-media/image.png");
const GREEDY = { temperature: 0, presence_penalty: 0, repetition_penalty: 1 };

after(() => closeNative());

/** Native bytes in use with nothing loaded (the other tests in this file close what they open). */
async function baseline(): Promise<number> {
  await closeNative();
  return nativeMemory().bytesInUse;
}

describe("native sessions", () => {
  test("two concurrent image reason() calls on one checkpoint both succeed, with the sequential calls' text", async () => {
    await closeNative();
    const req = (prompt: string) => ({
      task: "custom" as const,
      image: IMAGE,
      prompt,
      maxTokens: 12,
      sampling: GREEDY,
    });
    const a1 = await reason(req("Describe this image."), { backend: CKPT });
    const b1 = await reason(req("What is in the picture?"), { backend: CKPT });
    const [a2, b2] = await Promise.all([
      reason(req("Describe this image."), { backend: CKPT }),
      reason(req("What is in the picture?"), { backend: CKPT }),
    ]);
    assert.equal(a2.text, a1.text);
    assert.equal(b2.text, b1.text);
    assert.deepEqual(a2.usage, a1.usage);
    assert.deepEqual(b2.usage, b1.usage);
    assert.ok((a1.usage?.promptTokens ?? 0) > (b1.usage?.completionTokens ?? 0), "the image's rows are in the prompt");
  });

  test("dir, dir/, a/../dir and a cached repo id of it are one load", async () => {
    const before = await baseline();
    const rel = relative(process.cwd(), CKPT);
    const [s1, s2, s3] = await Promise.all([
      openQwen3VL(CKPT),
      openQwen3VL(CKPT + "/"),
      openQwen3VL(`${FIXTURES}qwen3vl-tiny-media/../qwen3vl-tiny`),
    ]);
    assert.equal(s2, s1);
    assert.equal(s3, s1);
    assert.equal(await openQwen3VL(rel), s1, `relative path ${rel}`);
    // A repo id whose hub-cache snapshot is (a symlink to) the folder is the same checkpoint.
    const hub = mkdtempSync(join(tmpdir(), "hub-"));
    const commit = "0123456789abcdef0123456789abcdef01234567";
    mkdirSync(join(hub, "models--test--tiny/refs"), { recursive: true });
    mkdirSync(join(hub, "models--test--tiny/snapshots"), { recursive: true });
    writeFileSync(join(hub, "models--test--tiny/refs/main"), commit);
    symlinkSync(CKPT, join(hub, "models--test--tiny/snapshots", commit));
    const saved = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = hub;
    try {
      assert.equal(await openQwen3VL("test/tiny"), s1, "repo id test/tiny in the hub cache");
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = saved;
      rmSync(hub, { recursive: true, force: true });
    }
    const one = nativeMemory().bytesInUse - before;
    assert.ok(one > 1_000_000, `one decoder's weights: ${one} bytes`);
    await closeNative();
    const m = NativeTextModel.load(CKPT);
    assert.equal(nativeMemory().bytesInUse - before, one, "the session holds exactly one decoder");
    m.free();
  });

  test("[Symbol.asyncDispose] frees native and V8 external memory; a disposed session refuses calls", async () => {
    const before = await baseline();
    const s = await openQwen3VL(CKPT);
    const p = await s.prepare([{ role: "user", content: [{ type: "image" }, { type: "text", text: "Hi" }] }], {
      images: [{ frames: [await imageOf()] }],
    });
    const tower = await s.tower();
    // Weights, and the prompt's visual tensors (the tower's outputs, kept for the decoder).
    const tensors = [p.visual.embeds, ...(p.visual.deepstack ?? [])].reduce(
      (n, t) => n + (t instanceof NativeTensor ? t.bytes : 0),
      0,
    );
    assert.ok(tensors > 0);
    const held = s.model.info().externalBytes + tower.info().externalBytes + tensors;
    assert.equal(tower.info().externalBytes, tower.info().weightBytes, "the tower reports its weights to V8");
    const mem = nativeMemory();
    assert.ok(mem.bytesInUse > before);
    if (mem.device === "cpu") {
      assert.equal(held, mem.bytesInUse - before, "what V8 was told is what the CPU engine holds");
    }
    const external = mem.v8ExternalBytes;
    assert.equal(s.disposed, false);
    await s[Symbol.asyncDispose]();
    assert.equal(s.disposed, true);
    assert.equal(nativeMemory().bytesInUse, before);
    assert.equal(before, 0, "nothing else is loaded in this process");
    assert.equal(s.model.info().freed, true);
    assert.equal(s.model.info().externalBytes, 0);
    const dropped = external - nativeMemory().v8ExternalBytes;
    assert.ok(dropped >= held, `V8's external memory dropped by ${dropped}, the objects had reported ${held}`);
    await assert.rejects(
      s.generate(p, { maxTokens: 2, sampling: {} }),
      (e: unknown) => e instanceof NativeError && /closed/.test(e.message),
    );
    await assert.rejects(s.prepare([{ role: "user", content: "Hi" }], {}), NativeError);
    // The next open loads the checkpoint again.
    const again = await openQwen3VL(CKPT);
    assert.notEqual(again, s);
    assert.equal(again.disposed, false);
    await closeNative();
  });

  test("closeNative() frees sessions and lone models and towers", async () => {
    const before = await baseline();
    await openQwen3VL(CKPT);
    NativeTextModel.load(CKPT);
    await loadVisionTower(CKPT);
    assert.ok(nativeMemory().bytesInUse > before);
    await closeNative();
    assert.equal(nativeMemory().bytesInUse, before);
  });

  test("a queued call aborted while it waits leaves the queue and rejects at once", async () => {
    const s = await openQwen3VL(CKPT);
    const p = await s.prepare([{ role: "user", content: "Count to ten." }], {});
    let firstDone = false;
    const first = s.generate(p, { maxTokens: 64, sampling: { temperature: 0 } }).finally(() => void (firstDone = true));
    const ac = new AbortController();
    const second = s.generate(p, { maxTokens: 64, sampling: { temperature: 0 }, signal: ac.signal });
    const third = s.generate(p, { maxTokens: 64, sampling: { temperature: 0 } });
    assert.equal(s.queued, 2);
    ac.abort();
    assert.equal(s.queued, 1, "the aborted call left the queue");
    await assert.rejects(second, AbortError);
    assert.equal(firstDone, false, "the aborted call did not wait for the running one");
    const [r1, r3] = await Promise.all([first, third]);
    assert.deepEqual(r3.tokens, r1.tokens, "the call behind the aborted one ran normally");
    assert.equal(s.queued, 0);
  });

  test("closing a session rejects its waiting calls; the running one ends normally", async () => {
    const s = await openQwen3VL(CKPT);
    const p = await s.prepare([{ role: "user", content: "Count to ten." }], {});
    const running = s.generate(p, { maxTokens: 8, sampling: { temperature: 0 } });
    const waiting = s.generate(p, { maxTokens: 8, sampling: { temperature: 0 } });
    const closed = s.free();
    await assert.rejects(waiting, (e: unknown) => e instanceof NativeError && /closed/.test(e.message));
    assert.equal((await running).tokens.length > 0, true);
    await closed;
  });
});

describe("run queue", () => {
  test("jobs run one at a time in arrival order", async () => {
    const q = new RunQueue();
    const log: string[] = [];
    const job = (n: number) => async () => {
      log.push(`start ${n}`);
      await new Promise((r) => setTimeout(r, 5 * (4 - n)));
      log.push(`end ${n}`);
      return n;
    };
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => q.run(job(n)))), [1, 2, 3]);
    assert.deepEqual(log, ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  test("a failing job rejects only its own call", async () => {
    const q = new RunQueue();
    const a = q.run(() => Promise.reject(new Error("boom")));
    const b = q.run(() => Promise.resolve(2));
    await assert.rejects(a, /boom/);
    assert.equal(await b, 2);
  });

  test("an already-aborted signal rejects without queueing", async () => {
    const q = new RunQueue();
    let ran = false;
    await assert.rejects(q.run(async () => void (ran = true), AbortSignal.abort()), AbortError);
    assert.equal(ran, false);
    assert.equal(q.waiting, 0);
  });
});

describe("the JS <-> C++ contract", () => {
  test("abiVersion: the loaded module matches; another version or none is a NativeError saying to rebuild", () => {
    assert.equal(loadAddon().abiVersion, ADDON_ABI_VERSION);
    for (const fake of [{ abiVersion: ADDON_ABI_VERSION - 1 }, { abiVersion: ADDON_ABI_VERSION + 1 }, {}, null]) {
      assert.throws(() => checkAbi(fake, "/x/cosmos_native.node"), (e: unknown) => {
        assert.ok(e instanceof NativeError, String(e));
        assert.match(
          e.message,
          /\/x\/cosmos_native\.node was built for (ABI \d+|no ABI version); this code needs ABI \d+/,
        );
        assert.match(e.hint ?? "", /scripts\/build-native\.sh/);
        return true;
      });
    }
    const ok = { abiVersion: ADDON_ABI_VERSION };
    assert.equal(checkAbi(ok, "x"), ok);
  });

  test("info() is parsed with its schema: hostPinnedBytes (CUDA) is kept, the real tower's info fits the strict schema", async () => {
    const cudaInfo = {
      freed: false,
      busy: false,
      externalBytes: 10,
      backend: "cuda",
      weightType: "bf16",
      gpuBytesInUse: 10,
      lastRunPeakBytes: 20,
      hostPinnedBytes: 4096,
      depth: 2,
      hiddenSize: 32,
      outHiddenSize: 64,
      patchDim: 1536,
      mergeSize: 2,
      deepstackLayers: 2,
      weightBytes: 10,
    };
    assert.equal(NativeVisionInfo.parse(cudaInfo).hostPinnedBytes, 4096);
    assert.throws(
      () => NativeVisionInfo.parse({ ...cudaInfo, somethingNew: 1 }),
      /somethingNew/,
      "a field C++ adds must be added to the schema",
    );
    const tower = await loadVisionTower(CKPT);
    const info = tower.info();
    assert.equal(info.outHiddenSize, 64);
    assert.ok(info.externalBytes > 0);
    tower.free();
    assert.equal(tower.info().externalBytes, 0);
  });

  test("the config is an object checked again in C++ (a raw call with a bad one is a CONFIG error, not a crash)", () => {
    const cfg = nativeTextConfig(readCheckpointConfig(CKPT));
    assert.deepEqual(cfg.mropeSection, [4, 2, 2]);
    const raw = loadAddon();
    for (
      const bad of [{ ...cfg, headDim: 15 }, { ...cfg, numKvHeads: 3 }, { ...cfg, vocabSize: 1.5 }, {
        ...cfg,
        mropeSection: [4, 2],
      }]
    ) {
      assert.throws(() => raw.loadModel(CKPT, bad as typeof cfg), (e: unknown) => {
        const typed = fromNative(e);
        assert.ok(typed instanceof CheckpointError, `${JSON.stringify(bad)}: ${String(e)}`);
        return true;
      });
    }
    assert.throws(
      () => raw.loadModel(CKPT, readFileSync(join(CKPT, "config.json"), "utf8") as never),
      /NativeTextConfig/,
    );
  });
});

async function imageOf() {
  return (await prepareQwenImage(IMAGE, { minPixels: 64 * 64, maxPixels: 128 * 128 })).image;
}
