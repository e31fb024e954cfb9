// Drives the C++ test binaries built by native/test/build_cpu_tests.sh:
//  - ops_cpu_test: every CPU op against a direct double-precision formula at awkward sizes;
//  - layers_cpu_test: the shared layers (native/src/layers) against direct computations, the attention
//    block's extra K/V from another stream included;
//  - runtime_cpu_test: the token loop (native/src/runtime) on the CPU decoder and the tiny checkpoint;
//  - flow_sampler_cpu_test: the Generator's flow schedules, samplers and denoising loop (native/src/runtime);
//  - cosmos3_transformer_cpu_test: the Cosmos 3 MoT transformer (its ops, the text cache, diffusers' outputs);
//  - cosmos3_generator_cpu_test: the Generator engine end to end (t2v fixture run vs diffusers, abort, errors);
//  - cosmos3_audio_cpu_test: the AVAE sound decoder against diffusers on the tiny fixture (and the pipeline's sound);
//  - wan_vae_cpu_test: the Wan2.2 VAE (encode, decode) against diffusers on the tiny fixture, chunked == whole;
//  - safetensors_fuzz: seeded random mutations of real checkpoint headers; every outcome must be a
//    valid header or a typed SafetensorsError (no crash, no other exception), and the hand-made
//    corruptions must map to their error codes. (Also run once under ASAN=1; see native/test/.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import process from "node:process";
import { join } from "node:path";
import { ROOT } from "./_reference.ts";

let outDir: string | undefined;
function bin(name: string): string {
  outDir ??= execFileSync("bash", [join(ROOT, "native/test/build_cpu_tests.sh")], { encoding: "utf8" }).trim().split(
    "\n",
  ).pop()!;
  return join(outDir, name);
}

describe("native C++ tests (CPU)", () => {
  test("ops_cpu_test: ops match direct formulas", () => {
    const out = execFileSync(bin("ops_cpu_test"), { encoding: "utf8", env: { ...process.env, COSMOS_THREADS: "2" } });
    const r = JSON.parse(out) as { checks: number; failures: number; worst: Record<string, number> };
    assert.equal(r.failures, 0);
    assert.ok(r.checks >= 30);
    assert.ok(r.worst.matmul < 1e-4 && r.worst.attention_causal < 1e-5 && r.worst.mrope_interleaved_cos < 1e-5);
  });

  test("layers_cpu_test: attention block (KV cache, segments, extra K/V), MLPs, weight binding match direct formulas", () => {
    const out = execFileSync(bin("layers_cpu_test"), {
      encoding: "utf8",
      env: { ...process.env, COSMOS_THREADS: "2" },
    });
    const r = JSON.parse(out) as { checks: number; failures: number; worst: Record<string, number> };
    assert.equal(r.failures, 0);
    assert.ok(r.checks >= 20);
    assert.ok(r.worst.attention_extra_kv_full < 1e-5 && r.worst.attention_extra_kv_causal < 1e-5);
  });

  test("runtime_cpu_test: the token loop (greedy, stop ids, max_tokens, abort, seeded sampling, penalties) on the tiny checkpoint", () => {
    const out = execFileSync(bin("runtime_cpu_test"), [ROOT], {
      encoding: "utf8",
      env: { ...process.env, COSMOS_THREADS: "2" },
    });
    const r = JSON.parse(out) as { checks: number; failures: number };
    assert.equal(r.failures, 0);
    assert.ok(r.checks >= 12);
  });

  test("cosmos3_transformer_cpu_test: MoT transformer ops, text cache == joint forward, diffusers outputs on the tiny fixture", () => {
    const out = execFileSync(bin("cosmos3_transformer_cpu_test"), [ROOT], {
      encoding: "utf8",
      env: { ...process.env, COSMOS_THREADS: "2" },
    });
    const r = JSON.parse(out) as {
      checks: number;
      failures: number;
      fixture_cases: number;
      worst: Record<string, number>;
    };
    assert.equal(r.failures, 0);
    assert.ok(r.checks >= 80);
    assert.ok(r.worst["qwen3.cache_vs_joint.vision"] < 1e-5 && r.worst["qwen3.vs_double.vision"] < 1e-4);
    // diffusers' Cosmos3OmniTransformer outputs (t2v, t2v_uncond, i2v, v2v, t2i, sound, policy, fdyn, idyn)
    assert.equal(r.fixture_cases, 9);
    for (const c of ["t2v", "i2v", "t2i", "policy"]) assert.ok(r.worst[`fixture.${c}.vision`] < 1e-4, c);
    assert.ok(r.worst["fixture.sound.sound"] < 1e-4 && r.worst["fixture.policy.action"] < 1e-4);
  });

  test("wan_vae_cpu_test: Wan2.2 VAE encode / decode match diffusers on the tiny fixture; chunked == whole", () => {
    const out = execFileSync(bin("wan_vae_cpu_test"), [ROOT], {
      encoding: "utf8",
      env: { ...process.env, COSMOS_THREADS: "2" },
    });
    const r = JSON.parse(out) as { checks: number; failures: number; fixture: boolean; worst: Record<string, number> };
    assert.equal(r.failures, 0);
    assert.equal(r.fixture, true, "test/fixtures/cosmos3-tiny/vae or cosmos3-tiny-reference/vae.safetensors missing");
    assert.ok(r.checks >= 25);
    for (
      const k of [
        "fixture_encode_mu",
        "fixture_encode_latents",
        "fixture_image_mu",
        "fixture_decode",
        "fixture_decode1",
      ]
    ) {
      assert.ok(r.worst[k] <= 1e-4, `${k}: ${r.worst[k]}`);
    }
    assert.ok(r.worst.decode_whole_vs_chunk1 <= 1e-6 && r.worst.encode_whole_vs_chunked <= 1e-6);
  });

  test("flow_sampler_cpu_test: flow schedules and step traces vs diffusers, H200 timesteps, denoising loop semantics", () => {
    const out = execFileSync(bin("flow_sampler_cpu_test"), [ROOT], { encoding: "utf8" });
    const r = JSON.parse(out) as { checks: number; failures: number; worst: Record<string, number> };
    assert.equal(r.failures, 0);
    assert.ok(r.checks >= 90);
    assert.ok(r.worst["unipc flow sigmas vs formula"] < 1e-6 && r.worst["toy_unipc2_40_steps"] < 5e-3);
    // diffusers' schedules and 5-step traces (test/fixtures/cosmos3-tiny-reference/scheduler.*).
    assert.ok(r.worst["fixture sigmas"] <= 1e-6 && r.worst["trace per-step samples: unipc"] <= 1e-5);
  });

  test("cosmos3_generator_cpu_test: the Generator engine's t2v run matches diffusers (step latents, final, video)", () => {
    const out = execFileSync(bin("cosmos3_generator_cpu_test"), [ROOT], {
      encoding: "utf8",
      env: { ...process.env, COSMOS_THREADS: "2" },
    });
    const r = JSON.parse(out) as { checks: number; failures: number; fixture: boolean; worst: Record<string, number> };
    assert.equal(r.failures, 0);
    assert.equal(r.fixture, true, "test/fixtures/cosmos3-tiny or cosmos3-tiny-reference missing");
    assert.ok(r.checks >= 25);
    for (const k of ["t2v.step.0", "t2v.step.1", "t2v.step.2", "t2v.final", "t2v.video"]) {
      assert.ok(r.worst[k] <= 1e-3, `${k}: ${r.worst[k]}`);
    }
  });

  test("cosmos3_audio_cpu_test: the AVAE sound decoder matches diffusers (decode, pipeline t2v sound wave)", () => {
    const out = execFileSync(bin("cosmos3_audio_cpu_test"), [ROOT], {
      encoding: "utf8",
      env: { ...process.env, COSMOS_THREADS: "2" },
    });
    const r = JSON.parse(out) as { checks: number; failures: number; worst: Record<string, number> };
    assert.equal(r.failures, 0);
    assert.ok(r.checks >= 25);
    for (
      const k of [
        "avae_decode_vs_diffusers",
        "avae_decode_unclamped_vs_diffusers",
        "pipeline_t2v_sound_wave_vs_diffusers",
      ]
    ) {
      assert.ok(r.worst[k] <= 1e-4, `${k}: ${r.worst[k]}`);
    }
  });

  test("safetensors_fuzz: 5000 mutated headers, typed errors only", () => {
    const files = ["test/fixtures/qwen3vl-tiny/model.safetensors", "test/fixtures/qwen3vl-tiny-reference.safetensors"]
      .map((f) => join(ROOT, f));
    const out = execFileSync(bin("safetensors_fuzz"), [...files, "--iters", "5000", "--seed", "2024"], {
      encoding: "utf8",
    });
    const r = JSON.parse(out) as { iterations: number; failures: number; outcomes: Record<string, number> };
    assert.equal(r.failures, 0);
    assert.equal(r.iterations, 5000);
    assert.equal(r.outcomes.OTHER, undefined);
    // The mutations reach every validation stage, not just the JSON parser.
    for (const code of ["HEADER_SIZE", "HEADER_JSON", "HEADER_SCHEMA", "DTYPE", "SHAPE_BYTES", "OFFSETS", "OK"]) {
      assert.ok((r.outcomes[code] ?? 0) > 0, `no ${code} outcome: ${out}`);
    }
  });
});
