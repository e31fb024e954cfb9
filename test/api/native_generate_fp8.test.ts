// The Generator's fp8 load option (`backend: { kind: "native", checkpoint, quantization: "fp8" }`, vLLM-Omni's
// `--quantization fp8`) on the native engine (CPU: the f32 twin of the CUDA fp8 path) with the tiny fixture:
//  - an fp8 session is its own (model class "generator:fp8") beside the unquantized one; info() says which, and its
//    weight bytes are the e4m3 copies instead of the unquantized weights of the linears it quantized;
//  - the diffusers t2i run (fixture noise, 3 steps, CFG 3): the unquantized latents are diffusers' within 1e-3,
//    the fp8 ones differ from them by more than that and stay within 10% (relative L2) of them;
//  - generate() with it writes its image and names fp8 in `backend`;
//  - a value other than "none" / "fp8" is a ValidationError naming backend.quantization (and the addon's own check
//    an ARGUMENT error); fp8 for the Reasoner is a ValidationError before anything loads.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../../src/api/generate.ts";
import { reason } from "../../src/api/reason.ts";
import { ValidationError } from "../../src/errors.ts";
import { generatorInputs, planGeneration } from "../../src/generator/mod.ts";
import { type Cosmos3GeneratorSession, openCosmos3Generator } from "../../src/native/generator.ts";
import { loadAddon } from "../../src/native/load.ts";
import { f32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";
import { pipelineRun } from "../generator/_cosmos3_reference.ts";
import { FIXTURES } from "../native/_reference.ts";
import { nativeGeneratorFixture } from "./_native_generator_fixture.ts";
import { relativeL2 } from "../../bench/fp8_fidelity.ts";

const { CKPT, REF, OUT, pipelines } = nativeGeneratorFixture("cosmos-fp8-", "cosmos3-tiny");
const spec = pipelines().t2i;
const store = readSafetensors(join(REF, "pipeline_t2i.safetensors"));

async function finalLatents(s: Cosmos3GeneratorSession): Promise<Float32Array> {
  const plan = planGeneration(pipelineRun(spec), s.model);
  const inputs = generatorInputs(plan, s.tokenizer, s.model);
  const r = await s.run({ plan, inputs, noise: f32(store.get("noise.vision"), "noise.vision"), decode: false });
  return r.latents;
}

describe("fp8 load option of the native Generator (tiny fixture, CPU)", () => {
  test("an fp8 session beside the unquantized one; the diffusers t2i run: plain within 1e-3, fp8 within 10%", async () => {
    const plain = await openCosmos3Generator(CKPT);
    const fp8 = await openCosmos3Generator(CKPT, undefined, { quantization: "fp8" });
    assert.notEqual(plain, fp8);
    assert.equal(await openCosmos3Generator(CKPT, undefined, { quantization: "fp8" }), fp8, "one fp8 session");
    assert.equal(plain.quantization, "none");
    assert.equal(fp8.quantization, "fp8");
    const info = (s: Cosmos3GeneratorSession) => s.raw.info() as { quantization: string; weightBytes: number };
    assert.equal(info(plain).quantization, "none");
    assert.equal(info(fp8).quantization, "fp8");
    // The fp8 session counts its e4m3 copies (1 byte a weight + an f32 scale a row) and no longer the f32 weights of
    // those linears (given back at load: 4 bytes a weight), from the fixture's config (SwiGLU, no attention bias).
    const c = JSON.parse(readFileSync(join(CKPT, "transformer/config.json"), "utf8"));
    const qkvOut = (c.num_attention_heads + 2 * c.num_key_value_heads) * c.head_dim;
    const linears: [number, number][] = [
      [qkvOut, c.hidden_size],
      [c.hidden_size, c.num_attention_heads * c.head_dim],
      [2 * c.intermediate_size, c.hidden_size],
      [c.hidden_size, c.intermediate_size],
    ];
    const perLayer = linears.reduce((t, [out, inn]) => t + 3 * out * inn - 4 * out, 0);
    assert.equal(info(plain).weightBytes - info(fp8).weightBytes, c.num_hidden_layers * perLayer);

    const diffusers = f32(store.get("final.vision"), "final.vision");
    const a = await finalLatents(plain);
    const b = await finalLatents(fp8);
    assert.ok(maxAbsDiff(a, diffusers) <= 1e-3, `unquantized vs diffusers ${maxAbsDiff(a, diffusers)}`);
    const d = relativeL2(b, a);
    assert.ok(maxAbsDiff(b, diffusers) > 1e-3, "fp8 changes the latents");
    assert.ok(d < 0.1, `fp8 vs unquantized: relative L2 ${d}`);
  });

  test("generate() with quantization fp8 writes its image and says fp8 in backend", async () => {
    const outputPath = join(OUT, "fp8.png");
    const r = await generate(
      {
        prompt: "A red cube.",
        output: "image",
        resolution: "256p",
        aspectRatio: "1:1",
        numInferenceSteps: 2,
        outputPath,
      },
      { backend: { kind: "native", checkpoint: CKPT, quantization: "fp8" } },
    );
    assert.match(r.backend, /, fp8\)$/);
    assert.equal(r.media.path, outputPath);
    assert.ok(existsSync(outputPath));
  });

  test("bad values: a ValidationError naming backend.quantization; the addon's own check; fp8 for the Reasoner", async () => {
    await assert.rejects(
      generate({ prompt: "x", output: "image" }, {
        backend: { kind: "native", checkpoint: CKPT, quantization: "int4" as "fp8" },
      }),
      (e: unknown) => e instanceof ValidationError && e.field === "backend.quantization" && /fp8/.test(e.allowed),
    );
    const addon = loadAddon();
    assert.throws(
      () => addon.loadGenerator!(CKPT, { quantization: "int8" as "fp8" }),
      (e: unknown) => (e as { code?: string }).code === "ARGUMENT" && /"none" or "fp8"/.test((e as Error).message),
    );
    await assert.rejects(
      reason({ prompt: "What is this?" }, {
        backend: { kind: "native", checkpoint: join(FIXTURES, "qwen3vl-tiny"), quantization: "fp8" },
      }),
      (e: unknown) => e instanceof ValidationError && e.field === "backend.quantization",
    );
  });
});
