// Failure paths of the native engine: corrupt checkpoints become CheckpointError (never a crash),
// bad arguments become ValidationError, generate() stops on an AbortSignal and the model stays
// usable, a second call while generating is refused, free() releases memory, deviceInfo explains itself.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbortError, CheckpointError, NativeError, ValidationError } from "../../src/errors.ts";
import { loadAddon, nativeDeviceInfo, nativeMemory, NativeTextModel } from "../../src/native/mod.ts";
import { CKPT, reference } from "./_reference.ts";

const tmp = mkdtempSync(join(tmpdir(), "native-errors-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const good = readFileSync(join(CKPT, "model.safetensors"));
const config = readFileSync(join(CKPT, "config.json"), "utf8");

/** Writes a checkpoint folder whose model.safetensors is `bytes`. */
function folder(name: string, bytes: Uint8Array): string {
  const dir = mkdtempSync(join(tmp, name + "-"));
  writeFileSync(join(dir, "model.safetensors"), bytes);
  copyFileSync(join(CKPT, "config.json"), join(dir, "config.json"));
  return dir;
}

/** The fixture with its JSON header replaced (padded to keep the data start aligned). */
function withHeader(
  edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void,
): Uint8Array {
  const n = Number(good.readBigUInt64LE(0));
  const h = JSON.parse(good.subarray(8, 8 + n).toString("utf8"));
  edit(h);
  let js = JSON.stringify(h);
  while ((8 + js.length) % 8) js += " ";
  const out = Buffer.alloc(8 + js.length + good.length - 8 - n);
  out.writeBigUInt64LE(BigInt(js.length), 0);
  out.write(js, 8, "utf8");
  good.copy(out, 8 + js.length, 8 + n);
  return out;
}

function expectCheckpointError(dir: string, code: string): void {
  assert.throws(() => NativeTextModel.load(dir), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `got ${String(e)}`);
    assert.match(e.message, new RegExp(code));
    return true;
  });
}

describe("native engine: corrupt checkpoints", () => {
  test("truncated file", () =>
    expectCheckpointError(folder("trunc", good.subarray(0, good.length - 100)), "SAFETENSORS_OFFSETS"));
  test("header length past the end", () => {
    const b = Buffer.from(good.subarray(0, 4096));
    expectCheckpointError(folder("short", b), "SAFETENSORS_(HEADER_SIZE|OFFSETS)");
  });
  test("header not JSON", () => {
    const b = Buffer.from(good);
    b.write("#", 8 + 1); // the first key's opening quote
    expectCheckpointError(folder("json", b), "SAFETENSORS_HEADER_JSON");
  });
  test("shape does not match the byte length", () =>
    expectCheckpointError(
      folder("shape", withHeader((h) => void (h["lm_head.weight"].shape = [1426, 65]))),
      "SAFETENSORS_SHAPE_BYTES",
    ));
  test("overlapping offsets", () =>
    expectCheckpointError(
      folder(
        "overlap",
        withHeader((h) => {
          const a = h["model.language_model.norm.weight"],
            b = h["model.language_model.layers.0.input_layernorm.weight"];
          b.data_offsets = [...a.data_offsets];
        }),
      ),
      "SAFETENSORS_OFFSETS",
    ));
  test("unknown dtype", () =>
    expectCheckpointError(
      folder("dtype", withHeader((h) => void (h["lm_head.weight"].dtype = "F31"))),
      "SAFETENSORS_DTYPE",
    ));
  test("tensor missing for the config", () =>
    expectCheckpointError(
      folder(
        "missing",
        withHeader((h) => {
          const t = h["model.language_model.norm.weight"];
          delete h["model.language_model.norm.weight"];
          h["model.language_model.norm_renamed.weight"] = t;
        }),
      ),
      "SAFETENSORS_MISSING",
    ));
  test("config that does not fit the weights", () => {
    const cfg = JSON.parse(config);
    cfg.text_config.hidden_size = 96;
    assert.throws(
      () => NativeTextModel.load(CKPT, JSON.stringify(cfg)),
      (e: unknown) => e instanceof CheckpointError && /shape/.test(e.message),
    );
  });
  test("missing path", () => assert.throws(() => NativeTextModel.load(join(tmp, "nope")), CheckpointError));
  test("a sharded index pointing outside its folder is refused", () => {
    const dir = mkdtempSync(join(tmp, "index-"));
    writeFileSync(
      join(dir, "model.safetensors.index.json"),
      JSON.stringify({ weight_map: { "lm_head.weight": "../x.safetensors" } }),
    );
    copyFileSync(join(CKPT, "config.json"), join(dir, "config.json"));
    expectCheckpointError(dir, "SAFETENSORS_INDEX");
  });
  test("a sharded checkpoint (index + 2 shards) loads and gives the same logits", () => {
    // Shard the fixture: visual + lm_head in one file, the language model in another.
    const n = Number(good.readBigUInt64LE(0));
    const h = JSON.parse(good.subarray(8, 8 + n).toString("utf8")) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >;
    const names = Object.keys(h).filter((k) => k !== "__metadata__");
    const groups = [
      names.filter((k) => k.startsWith("model.language_model.")),
      names.filter((k) => !k.startsWith("model.language_model.")),
    ];
    const dir = mkdtempSync(join(tmp, "sharded-"));
    const map: Record<string, string> = {};
    groups.forEach((g, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const hdr: Record<string, unknown> = {};
      const parts: Buffer[] = [];
      let off = 0;
      for (const k of g) {
        const [s, e] = h[k].data_offsets;
        hdr[k] = { dtype: h[k].dtype, shape: h[k].shape, data_offsets: [off, off + e - s] };
        parts.push(good.subarray(8 + n + s, 8 + n + e));
        off += e - s;
        map[k] = file;
      }
      let js = JSON.stringify(hdr);
      while ((8 + js.length) % 8) js += " ";
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(js.length));
      writeFileSync(join(dir, file), Buffer.concat([len, Buffer.from(js), ...parts]));
    });
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: map }));
    copyFileSync(join(CKPT, "config.json"), join(dir, "config.json"));
    const ids = reference().text_prompts[0].input_ids;
    const a = NativeTextModel.load(dir);
    const b = NativeTextModel.load(CKPT);
    assert.deepEqual(a.forwardLogits(ids), b.forwardLogits(ids));
    a.free();
    b.free();
  });
});

describe("native engine: arguments, abort, busy, free", () => {
  const m = NativeTextModel.load(CKPT);
  after(() => m.free());
  const prompt = reference().text_prompts[0].input_ids;

  test("token id outside the vocabulary", () => {
    assert.throws(
      () => m.prefill([1, 2, 99999]),
      (e: unknown) => e instanceof CheckpointError || e instanceof ValidationError,
    );
    assert.throws(() => m.forwardLogits([1, 2], [0, 1, 0, 1]), ValidationError); // pos3 needs 3 x 2 entries
  });

  test("abort mid-generate: rejects with AbortError, model usable afterwards", async () => {
    m.reset();
    const ac = new AbortController();
    const seen: number[] = [];
    const p = m.generate({
      ids: prompt,
      maxTokens: 1_000_000,
      onToken: (t) => {
        seen.push(t);
        if (seen.length === 3) ac.abort();
      },
      signal: ac.signal,
    });
    // While it runs, the model refuses other calls.
    assert.throws(() => m.decode(1), (e: unknown) => e instanceof NativeError && /generate/.test(e.message));
    await assert.rejects(p, AbortError);
    assert.ok(seen.length >= 3 && seen.length < 1_000_000);
    assert.equal(m.info().busy, false);
    m.reset();
    const r = await m.generate({ ids: prompt, maxTokens: 4 });
    assert.deepEqual(r.tokens, reference().text_prompts[0].greedy_ids.slice(0, 4));
  });

  test("an already-aborted signal rejects at once", async () => {
    await assert.rejects(m.generate({ ids: prompt, maxTokens: 4, signal: AbortSignal.abort() }), AbortError);
  });

  test("onToken throwing ends generation with an error", async () => {
    m.reset();
    await assert.rejects(
      m.generate({
        ids: prompt,
        maxTokens: 50,
        onToken: () => {
          throw new Error("boom");
        },
      }),
      (e: unknown) => e instanceof NativeError && /boom/.test(e.message),
    );
    assert.equal(m.info().busy, false);
  });

  test("free() releases memory; a freed model refuses calls", () => {
    // A copy of the checkpoint: its files are not the ones `m` holds, so the weight cache (layers/weights.h, keyed
    // by file identity) shares nothing and this load's weights are its own.
    const copy = mkdtempSync(join(tmpdir(), "cosmos-free-"));
    try {
      for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(CKPT, f), join(copy, f));
      const before = nativeMemory().bytesInUse;
      const x = NativeTextModel.load(copy);
      const loaded = nativeMemory().bytesInUse;
      assert.ok(loaded - before > 1_000_000, `weights ${loaded - before} bytes`); // 1.17 MB of f32 text weights
      x.free();
      assert.equal(nativeMemory().bytesInUse, before);
      assert.ok(nativeMemory().peakBytes >= loaded);
      assert.throws(() => x.decode(1), (e: unknown) => e instanceof NativeError && /freed/.test(e.message));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  test("a second load of one checkpoint shares the first one's weights; freeing it leaves them to the first", async () => {
    const before = nativeMemory().bytesInUse;
    const y = NativeTextModel.load(CKPT);
    const added = nativeMemory().bytesInUse - before;
    assert.ok(added < 100_000, `a second load added ${added} bytes (the 1.17 MB of weights are \`m\`'s, shared)`);
    y.free();
    assert.equal(nativeMemory().bytesInUse, before);
    m.reset();
    const r = await m.generate({ ids: prompt, maxTokens: 4 });
    assert.deepEqual(r.tokens, reference().text_prompts[0].greedy_ids.slice(0, 4));
  });

  test("deviceInfo names the device and why", () => {
    const d = nativeDeviceInfo();
    assert.ok(d.device === "cpu" || d.device === "cuda");
    assert.ok(d.reason.length > 0);
    assert.equal(typeof loadAddon().abiVersion, "number");
  });
});
