// Test helper: the pipeline runs of test/fixtures/cosmos3-tiny-reference (reference.json `pipelines`, made by
// tools/fixtures/make_cosmos3_tiny.py with diffusers' Cosmos3OmniPipeline) as GeneratorRuns. Path-free, so
// tools/device/generate_e2e.ts can bundle it for the device.
import type { GeneratorRun, GeneratorTask } from "../../src/generator/mod.ts";
import type { DomainName } from "../../src/schema/embodiments.ts";
import type { Resolution } from "../../src/schema/settings.ts";
import { f32, type StTensor } from "../multimodal/_fixture.ts";

/** One of reference.json's pipeline runs (the fields the tests read). */
export interface PipelineRun {
  name: string;
  prompt: string;
  negative: string | null;
  fps: number;
  guidance: number;
  flow_shift: number;
  steps: number;
  num_frames?: number;
  height?: number;
  width?: number;
  image?: string;
  video?: string;
  enable_sound?: boolean;
  condition_frame_indexes_vision?: number[];
  action?: {
    mode: string;
    chunk_size: number;
    domain_name: string;
    resolution_tier: number;
    image?: string;
    video?: string;
  };
  conditioning: { action?: { raw_action_dim: number; domain_id: number } };
  prompt_ids: { cond_ids: number[]; uncond_ids: number[] };
  resolved: { latent_shape: number[]; canvas_height?: number; canvas_width?: number; content_hw?: number[] };
  prepare_latents: { action_image_size: number[] | null; raw_action_dim: number | null; domain_id: unknown };
}

/** The modes of distilled.json's runs. */
export type DistilledMode = "t2i" | "i2v" | "v2v";

/** One of distilled.json's runs (Cosmos3DistilledModularPipeline, made by make_cosmos3_tiny.py --only-distilled). */
export interface DistilledRun {
  name: DistilledMode;
  prompt: string;
  num_frames: number;
  height: number;
  width: number;
  fps: number;
  image?: string;
  /** v2v: "frames_00_04" (media/frame_00..04.png), with the latent frames it keeps clean. */
  video?: string;
  condition_frame_indexes_vision?: number[];
  distilled_sigmas: number[];
  timesteps: number[];
  latent_shape: number[];
}
/** distilled.json (v2v only once its fixture is made: it came after t2i / i2v). */
export interface DistilledRuns {
  runs: Record<"t2i" | "i2v", DistilledRun> & Partial<Record<"v2v", DistilledRun>>;
}

/** The GeneratorRun of a distilled pipeline call: its __call__ defaults (both templates on), guidance 1, 4 steps. */
export function distilledRun(spec: DistilledRun, shift: number): GeneratorRun {
  return pipelineRun({
    ...spec,
    negative: null,
    guidance: 1,
    flow_shift: shift,
    steps: spec.distilled_sigmas.length,
  } as unknown as PipelineRun);
}

/** media/frame_*.png, the i2v / v2v conditioning. */
export const FRAME = { width: 96, height: 64 };
/** media/action_*.png, the action runs' observation. */
export const ACTION_FRAME = { width: 64, height: 48 };

/** The GeneratorRun of one of the script's pipeline runs (its `__call__` defaults: both templates on). */
export function pipelineRun(spec: PipelineRun, rows?: number[][]): GeneratorRun {
  const common = {
    prompt: spec.prompt,
    negativePrompt: spec.negative ?? undefined,
    fps: spec.fps,
    numInferenceSteps: spec.steps,
    guidanceScale: spec.guidance,
    flowShift: spec.flow_shift,
    addResolutionTemplate: true,
    addDurationTemplate: true,
  };
  const a = spec.action;
  if (a) {
    return {
      ...common,
      task: a.mode as GeneratorTask,
      image: a.image ? ACTION_FRAME : undefined,
      video: a.video ? { ...ACTION_FRAME, frames: 5 } : undefined,
      action: {
        chunkSize: a.chunk_size,
        domainName: a.domain_name as DomainName,
        rawActionDim: spec.conditioning.action!.raw_action_dim,
        resolutionTier: `${a.resolution_tier}p` as Resolution,
        rows,
      },
    };
  }
  return {
    ...common,
    task: (spec.name === "t2v_sound" ? "t2v" : spec.name) as GeneratorTask,
    sound: spec.enable_sound ?? false,
    width: spec.width,
    height: spec.height,
    numFrames: spec.num_frames,
    image: spec.image ? FRAME : undefined,
    video: spec.video ? { ...FRAME, frames: 5 } : undefined,
    conditionFrameIndexes: spec.condition_frame_indexes_vision,
  };
}

/** The run's raw action rows (`cond.raw_actions`, `chunk` rows), undefined when it was given none. */
export function actionRows(store: Map<string, StTensor>, chunk: number): number[][] | undefined {
  const t = store.get("cond.raw_actions");
  if (!t) return undefined;
  const v = f32(t, "cond.raw_actions");
  const width = v.length / chunk;
  return Array.from({ length: chunk }, (_, i) => Array.from(v.subarray(i * width, (i + 1) * width)));
}

/**
 * The engine's decoded video [3, F, H, W] in [-1, 1] in the layout of a run's `out.video`: [kept frames, H, W, 3]
 * in [0, 1] (the pipeline's `x / 2 + 0.5`, clamped), every frame when `length` holds them all, else the first and
 * the last (the script keeps frames 0 and F − 1 of longer runs).
 */
export function pipelineFrames(
  out: { video?: Float32Array; frames: number; height: number; width: number },
  length: number,
): Float32Array {
  const F = out.frames, plane = out.height * out.width;
  const video = out.video!;
  const kept = length / (plane * 3) === F ? [...Array(F).keys()] : [0, F - 1];
  const got = new Float32Array(length);
  kept.forEach((f, k) => {
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        got[(k * plane + i) * 3 + c] = Math.min(1, Math.max(0, video[(c * F + f) * plane + i] / 2 + 0.5));
      }
    }
  });
  return got;
}
