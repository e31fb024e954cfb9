// The Generator's prompt ids, positions, layouts and masks against the real diffusers pipeline:
// test/fixtures/cosmos3-tiny (a diffusers-layout checkpoint) and cosmos3-tiny-reference/ (made by
// tools/fixtures/make_cosmos3_tiny.py on the device machine: tokenize_prompt cases, 8 pipeline runs at
// 64x96, and the transformer kwargs each run's pipeline built). Skipped until those files are committed.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { f32, i32, readSafetensors } from "../multimodal/_fixture.ts";
import { actionRows, type PipelineRun, pipelineRun } from "./_cosmos3_reference.ts";
import {
  generatorInputs,
  generatorPrompts,
  generatorPromptTexts,
  loadGeneratorModelConfig,
  loadGeneratorTextTokenizer,
  planGeneration,
} from "../../src/generator/mod.ts";

const CKPT = "test/fixtures/cosmos3-tiny";
const REF = "test/fixtures/cosmos3-tiny-reference";
const present = existsSync(`${REF}/reference.json`) && existsSync(`${CKPT}/transformer/config.json`);
const skip = present ? false : "the cosmos3-tiny fixtures are not committed yet";

type Json = Record<string, unknown>;
interface PromptCase {
  kwargs: {
    prompt: string;
    negative_prompt: string | null;
    num_frames: number;
    height: number;
    width: number;
    fps: number;
    use_system_prompt?: boolean;
    add_resolution_template?: boolean;
    add_duration_template?: boolean;
    action_mode?: string;
    action_view_point?: string;
  };
  cond_ids: number[];
  uncond_ids: number[];
  cond_conversation: { role: string; content: string }[];
  uncond_conversation: { role: string; content: string }[];
}
interface KwargEntry {
  tensor?: string;
  empty?: boolean;
  shape?: number[];
}
interface TransformerCase {
  kwargs: Record<string, KwargEntry | number | null | boolean>;
}

const reference = present ? JSON.parse(readFileSync(`${REF}/reference.json`, "utf8")) as Json : {};

describe("cosmos3-tiny reference: tokenize_prompt cases", { skip }, () => {
  test("cond / uncond ids and the user texts equal the pipeline's", async () => {
    const tok = await loadGeneratorTextTokenizer(CKPT);
    const model = await loadGeneratorModelConfig(CKPT);
    const cases = (reference.prompts as { cases: Record<string, PromptCase> }).cases;
    assert.ok(Object.keys(cases).length >= 6);
    for (const [name, c] of Object.entries(cases)) {
      const k = c.kwargs;
      const o = {
        prompt: k.prompt,
        negativePrompt: k.negative_prompt ?? undefined,
        numFrames: k.num_frames,
        height: k.height,
        width: k.width,
        fps: k.fps,
        useSystemPrompt: k.use_system_prompt ?? model.defaultUseSystemPrompt,
        addResolutionTemplate: k.add_resolution_template ?? true,
        addDurationTemplate: k.add_duration_template ?? true,
        action: k.action_mode ? { viewPoint: k.action_view_point ?? null } : undefined,
      };
      const texts = generatorPromptTexts(o);
      assert.equal(texts.cond, c.cond_conversation.at(-1)!.content, `${name}: cond text`);
      assert.equal(texts.uncond, c.uncond_conversation.at(-1)!.content, `${name}: uncond text`);
      const p = generatorPrompts(tok, o);
      assert.deepEqual(p.cond, c.cond_ids, `${name}: cond ids`);
      assert.deepEqual(p.uncond, c.uncond_ids, `${name}: uncond ids`);
    }
  });
});

describe("cosmos3-tiny reference: pipeline runs", { skip }, () => {
  test("prompt ids, latent shapes, masks, action canvas and rows of all 8 runs", async () => {
    const tok = await loadGeneratorTextTokenizer(CKPT);
    const model = await loadGeneratorModelConfig(CKPT);
    const runs = reference.pipelines as Record<string, PipelineRun>;
    assert.equal(Object.keys(runs).length, 8);
    for (const [name, spec] of Object.entries(runs)) {
      const store = readSafetensors(`${REF}/pipeline_${name}.safetensors`);
      const plan = planGeneration(pipelineRun(spec, actionRows(store, spec.action?.chunk_size ?? 0)), model);
      const inputs = generatorInputs(plan, tok, model);
      assert.deepEqual(inputs.prompts.cond, spec.prompt_ids.cond_ids, `${name}: cond ids`);
      assert.deepEqual(inputs.prompts.uncond, spec.prompt_ids.uncond_ids, `${name}: uncond ids`);
      assert.equal(inputs.uncond !== undefined, spec.guidance !== 1, `${name}: CFG`);
      const L = plan.latent;
      assert.deepEqual(spec.resolved.latent_shape, [1, L.channels, L.t, L.h, L.w], `${name}: latent shape`);
      const vmask = Array.from(f32(store.get("mask.vision"), "mask.vision"));
      assert.deepEqual(
        vmask,
        Array.from({ length: L.t }, (_, i) => plan.cleanLatentFrames.includes(i) ? 1 : 0),
        `${name}: vision mask`,
      );
      if (plan.action) {
        const amask = Array.from(f32(store.get("mask.action"), "mask.action"));
        assert.deepEqual(
          amask,
          Array.from({ length: plan.action.tokens }, (_, i) => plan.action!.cleanTokens.includes(i) ? 1 : 0),
        );
        const size = spec.prepare_latents.action_image_size!;
        const c = plan.actionCanvas!;
        assert.deepEqual(size, [c.canvas.height, c.canvas.width, c.content.height, c.content.width], `${name}: canvas`);
        assert.equal(spec.prepare_latents.raw_action_dim, plan.action.rawActionDim);
        assert.equal(spec.conditioning.action!.domain_id, plan.action.domainId);
        if (plan.action.values) {
          assert.deepEqual(
            Array.from(f32(store.get("init.action"), "init.action")),
            Array.from(plan.action.values),
            `${name}: rows`,
          );
        }
      }
      if (plan.sound) {
        const init = store.get("init.sound");
        assert.deepEqual(init?.shape, [plan.sound.channels, plan.sound.frames], `${name}: sound latents`);
      }
    }
  });
});

describe("cosmos3-tiny reference: transformer kwargs", { skip }, () => {
  test("input_ids, position_ids, und_len, sequence_length, token shapes, noisy frames and loss indexes", async () => {
    const tok = await loadGeneratorTextTokenizer(CKPT);
    const model = await loadGeneratorModelConfig(CKPT);
    const runs = reference.pipelines as Record<string, PipelineRun>;
    const cases = reference.transformer_cases as Record<string, TransformerCase>;
    const store = readSafetensors(`${REF}/transformer.safetensors`);
    const caseRun: Record<string, string> = {
      t2v: "t2v",
      i2v: "i2v",
      t2i: "t2i",
      sound: "t2v_sound",
      policy: "policy",
      fdyn: "fdyn",
      v2v: "v2v",
      idyn: "idyn",
      t2v_uncond: "t2v",
    };
    assert.ok(Object.keys(cases).length >= 9);
    for (const [name, c] of Object.entries(cases)) {
      const spec = runs[caseRun[name]];
      const pipeStore = readSafetensors(`${REF}/pipeline_${caseRun[name]}.safetensors`);
      const plan = planGeneration(pipelineRun(spec, actionRows(pipeStore, spec.action?.chunk_size ?? 0)), model);
      const inputs = generatorInputs(plan, tok, model);
      const b = name.endsWith("_uncond") ? inputs.uncond! : inputs.cond;
      const ints = (k: string): number[] => {
        const e = c.kwargs[k];
        if (e === null || e === undefined) return [];
        if (typeof e === "object" && e.empty) return [];
        return i32(store.get(`${name}.${k}`), `${name}.${k}`);
      };
      assert.deepEqual(ints("input_ids"), b.inputIds, `${name}: input_ids`);
      assert.deepEqual(ints("und_len"), [b.text.count], `${name}: und_len`);
      assert.deepEqual(ints("sequence_length"), [b.length], `${name}: sequence_length`);
      const pos = f32(store.get(`${name}.position_ids`), `${name}.position_ids`);
      assert.equal(pos.length, b.positions.length, `${name}: position_ids size`);
      const bad = pos.findIndex((v, i) => v !== b.positions[i]);
      assert.equal(bad, -1, `${name}: position_ids differ at ${bad}: ${pos[bad]} vs ${b.positions[bad]}`);
      assert.deepEqual(ints("vision_token_shapes"), [plan.patchGrid.t, plan.patchGrid.h, plan.patchGrid.w]);
      assert.deepEqual(ints("vision_sequence_indexes"), range(b.vision.start, b.vision.count), `${name}: vision seq`);
      assert.deepEqual(ints("vision_noisy_frame_indexes"), plan.noisyLatentFrames, `${name}: noisy frames`);
      const noisy = [
        ...ints("vision_mse_loss_indexes"),
        ...ints("sound_mse_loss_indexes"),
        ...ints("action_mse_loss_indexes"),
      ];
      assert.deepEqual(noisy, Array.from(b.noisyTokens), `${name}: noisy tokens`);
      if (plan.sound) {
        assert.deepEqual(ints("sound_token_shapes"), [plan.sound.frames, 1, 1]);
        assert.deepEqual(ints("sound_sequence_indexes"), range(b.sound!.start, b.sound!.count));
      } else assert.equal(c.kwargs.sound_tokens ?? null, null, `${name}: no sound`);
      if (plan.action) {
        assert.deepEqual(ints("action_token_shapes"), [plan.action.tokens, 1, 1]);
        assert.deepEqual(ints("action_sequence_indexes"), range(b.action!.start, b.action!.count));
        assert.deepEqual(ints("action_noisy_frame_indexes"), plan.action.noisyTokens);
        assert.deepEqual(ints("action_domain_ids"), [plan.action.domainId]);
      } else assert.equal(c.kwargs.action_tokens ?? null, null, `${name}: no actions`);
    }
  });
});

function range(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i);
}
