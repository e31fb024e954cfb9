/**
 * Request planning for the native Cosmos 3 Generator: from the settings of one run to what the
 * engine needs (latent and token shapes, which latent frames and action tokens are clean, the
 * conditioning geometry, the sound length, the action rows, the sampler settings, and per CFG
 * branch the packed layout, the noisy-token mask and the 3D positions). It mirrors diffusers
 * 58eb52c0 `pipeline_cosmos3_omni.py` (line numbers below are that file's):
 *
 * | task | clean | noisy |
 * | --- | --- | --- |
 * | t2i, t2v | nothing | every latent frame |
 * | i2v | latent 0 (the image) | the other latent frames |
 * | v2v | `conditionFrameIndexes` (default [0, 1]) | the others |
 * | forward_dynamics | latent 0 and every action token | the other latent frames |
 * | policy | latent 0 | the other latent frames and every action token |
 * | inverse_dynamics | every latent frame | every action token |
 *
 * Sound tokens are always noisy (`prepare_latents` 885-891, 954-956). Shapes: latent frames
 * T = (F − 1) / 4 + 1, latent h = H / 16, w = W / 16, and 2x2 patches over the latents zero-padded to
 * even sides (`_patchify_and_pack_latents` of transformer_cosmos3.py), so a 720p frame is 45x80 latents
 * and 23x40 = 920 tokens.
 *
 * The checkpoint rules are ValidationErrors naming the field: sizes multiples of the VAE's 16
 * (`check_inputs` 1060-1062), video frame counts 4k + 1 (the VAE's grid; the request schema rounds up
 * to it), v2v indexes inside the latent timeline (1066-1083), sound and actions only on checkpoints
 * with those heads (1022-1026, 1045-1046), an action run's frames = chunk or chunk + 1, action rows of
 * the embodiment's width no wider than the model's (822-827, 1047-1052).
 *
 * @example
 * ```ts
 * import { branchLayout, planGeneration } from "./plan.ts";
 * const plan = planGeneration({
 *   task: "t2v", sound: true, prompt: "Waves on a beach.", width: 1280, height: 720, numFrames: 189, fps: 24,
 *   numInferenceSteps: 35, guidanceScale: 6, flowShift: 10,
 * });
 * plan.visionTokens; // 44160
 * plan.sound?.frames; // 197
 * branchLayout(plan, 20).length; // 20 + 44160 + 197
 * ```
 * @module
 */
import { ValidationError } from "../errors.ts";
import type { GenerateRequest } from "../schema/generate_request.ts";
import { generationMode } from "../schema/generate_request.ts";
import type { RolloutRequest } from "../schema/rollout_request.ts";
import { type ActionMode, DOMAIN_IDS, type DomainName } from "../schema/embodiments.ts";
import { DEFAULT_RESOLUTION, type Resolution, RESOLUTION_TABLE } from "../schema/settings.ts";
import {
  conditionPixelFrames,
  DEFAULT_CONDITION_FRAME_INDEXES,
  DEFAULT_CONDITION_VIDEO_KEEP,
  GUIDANCE_EVERY_STEP,
  latentFrames,
  TIMESTEP_RANGE,
  VAE_TEMPORAL_COMPRESSION,
} from "../schema/diffusion_defaults.ts";
import { DEFAULT_GENERATOR_MODEL, type GeneratorModelConfig } from "./config.ts";
import { type GenerationGrids, type PackedPositions, packedPositions } from "./positions.ts";
import { DEFAULT_ACTION_VIEWPOINT, type PromptTextOptions } from "./prompt.ts";
import { pyRound } from "../media/qwen_vision.ts";

/** The pipeline's tasks: text-to-image / -video, image-to-video, video-to-video and the action modes. */
export type GeneratorTask = "t2i" | "t2v" | "i2v" | "v2v" | ActionMode;

/** A picture's size in pixels. */
export interface MediaSize {
  width: number;
  height: number;
}

/**
 * Order in which the pipeline's `_ACTION_RESOLUTION_BINS` (181-212) lists each tier's canvases (the first
 * wins a tie). The canvases themselves are the tier table of src/schema/settings.ts (its 256p / 480p /
 * 720p entries are the bins' (height, width) pairs; the bins' keys are height / width).
 */
const ACTION_BIN_ORDER = ["1:1", "4:3", "3:4", "16:9", "9:16"] as const;

/** The action part of a run (`CosmosActionCondition`). */
export interface ActionRunSettings {
  /** Transitions in the chunk; the clip has chunk + 1 frames. */
  chunkSize: number;
  domainName: DomainName;
  /** The embodiment's action width (rows are zero-padded from it to the model's action_dim). */
  rawActionDim: number;
  /** Conditioning tier (default 480p). */
  resolutionTier?: Resolution;
  /** Framing of the JSON caption (default "ego_view"). */
  viewPoint?: string | null;
  /** Forward dynamics: the chunk's rows (fewer repeat the last, more are cut, as the pipeline does). */
  rows?: readonly (readonly number[])[];
}

/** One run's settings (what a validated request resolves to, plus the conditioning media's sizes). */
export interface GeneratorRun {
  task: GeneratorTask;
  /** Make a sound track with the video. */
  sound?: boolean;
  prompt: string;
  negativePrompt?: string;
  /** Output size (not for action runs: their size follows the observation and the tier). */
  width?: number;
  height?: number;
  /** Frames: 1 for t2i, 4k + 1 for videos; action runs: chunk or chunk + 1 (the clip is chunk + 1). */
  numFrames?: number;
  fps: number;
  numInferenceSteps: number;
  guidanceScale: number;
  flowShift: number;
  /**
   * Scheduler timesteps `[lo, hi]` (closed, 0 ≤ lo ≤ hi ≤ 1000) whose steps apply CFG; the others run the cond
   * pass alone. Default: every step, as diffusers' pipeline does (generate() passes the mode's server default:
   * `[400, 1000]` for t2i).
   */
  guidanceInterval?: readonly [number, number];
  addResolutionTemplate?: boolean;
  addDurationTemplate?: boolean;
  /** Default: the checkpoint's `default_use_system_prompt`. */
  useSystemPrompt?: boolean;
  maxSequenceLength?: number;
  /** v2v: latent frames kept clean (default [0, 1]). */
  conditionFrameIndexes?: readonly number[];
  /** v2v: which end of the source video conditions (default "first"). */
  conditionVideoKeep?: "first" | "last";
  /** i2v image, or an action run's observation image. */
  image?: MediaSize;
  /** v2v source video, or an action run's video. */
  video?: MediaSize & { frames: number };
  action?: ActionRunSettings;
}

/** i2v: the image is resized to cover the output and centre-cropped (`_preprocess_conditioning_image`, 55-94). */
export interface CoverCrop {
  /** Size after the (bilinear, antialiased) resize: ceil(scale · source). */
  resized: MediaSize;
  /** Top-left corner of the crop: round((resized − target) / 2), ties to even. */
  top: number;
  left: number;
}

/** v2v: which source frames fill the clip (`prepare_latents` 808-816, 860-870). */
export interface VideoConditioning {
  /** Source frames used: max(conditionFrameIndexes) · 4 + 1, from the first or the last end. */
  keep: "first" | "last";
  conditionFrameIndexes: number[];
  /** For every output frame, the source frame it holds (the tail repeats the last conditioning frame). */
  frameMap: number[];
}

/** Action runs: the observation on the tier's canvas (`_prepare_action_video_conditioning`, 698-746). */
export interface ActionCanvas {
  tier: Resolution;
  /**
   * The observation's frames first stretched (bilinear) to whole multiples of 16, as
   * `VideoProcessor.preprocess_video` does (`get_default_height_width` rounds down).
   */
  source: MediaSize;
  /** The bin whose height/width ratio is closest to that of `source`. */
  canvas: MediaSize;
  /** The observation scaled to fit (never up), then padded right and bottom to the canvas. */
  content: MediaSize;
  padRight: number;
  padBottom: number;
  /** "reflect", or "replicate" when a pad is as large as the content; "none" without padding. */
  padMode: "none" | "reflect" | "replicate";
  /** For every clip frame, the source frame (an image is repeated; a short video repeats its last frame). */
  frameMap: number[];
}

/** The action stream of a plan. */
export interface ActionPlan {
  /** One token per transition (= chunk size). */
  tokens: number;
  /** The model's action_dim (the token width). */
  actionDim: number;
  /** The embodiment's width: channels from it on are zeroed after every step. */
  rawActionDim: number;
  domainName: DomainName;
  domainId: number;
  cleanTokens: number[];
  noisyTokens: number[];
  /** Forward dynamics: the clean rows, [tokens, actionDim] row-major, zero-padded. */
  values?: Float32Array;
  /** Whether the run returns actions (policy, inverse dynamics). */
  predicts: boolean;
}

/** Everything but the per-branch layout (see {@link branchLayout}). */
export interface GeneratorPlan {
  task: GeneratorTask;
  /** Pixel size of the generated frames (an action run's is its content crop, in whole latents). */
  width: number;
  height: number;
  /** Frames of the clip the latents stand for. */
  numFrames: number;
  fps: number;
  /** Frames the VAE decodes: (T − 1) · 4 + 1. */
  outputFrames: number;
  latent: { channels: number; t: number; h: number; w: number };
  /** Vision tokens per axis: latent frames, ceil(h / 2), ceil(w / 2). */
  patchGrid: { t: number; h: number; w: number };
  visionTokens: number;
  cleanLatentFrames: number[];
  noisyLatentFrames: number[];
  image?: CoverCrop & { source: MediaSize };
  video?: VideoConditioning;
  actionCanvas?: ActionCanvas;
  /** The sound track (always noisy): latent frames T_s = ceil(int(F / fps · rate) / hop). */
  sound?: { channels: number; frames: number; samples: number };
  action?: ActionPlan;
  /** `sigmas`: a distilled checkpoint's fixed schedule (one per step; its runs re-anchor the clean frames). */
  sampler: {
    numInferenceSteps: number;
    guidanceScale: number;
    flowShift: number;
    /** Whether the run has an uncond branch (guidance ≠ 1); its steps run it only inside `guidanceInterval`. */
    cfg: boolean;
    /** Timesteps `[lo, hi]` whose steps apply CFG (`[0, 1000]`: every step). */
    guidanceInterval: readonly [number, number];
    sigmas?: number[];
  };
  /** What the prompt ids are built from ({@link generatorPrompts} of prompt.ts). */
  prompt: PromptTextOptions & { useSystemPrompt: boolean; maxSequenceLength?: number };
  grids: GenerationGrids;
}

function fail(field: string, value: unknown, allowed: string, message: string): never {
  throw new ValidationError([{ field, value, allowed, message }]);
}

function positiveInt(field: string, v: number | undefined, what: string): number {
  if (v === undefined || !Number.isInteger(v) || v < 1) fail(field, v, "a whole number ≥ 1", `${what} is needed`);
  return v;
}

/**
 * `_preprocess_conditioning_image` geometry: scale to cover `target`, ceil the sides, crop centred.
 *
 * @example
 * ```ts
 * import { coverCrop } from "./plan.ts";
 * coverCrop({ width: 640, height: 480 }, { width: 1280, height: 720 }); // resized 1280x960, top 120, left 0
 * ```
 */
export function coverCrop(source: MediaSize, target: MediaSize): CoverCrop {
  const scale = Math.max(target.width / source.width, target.height / source.height);
  const resized = { width: Math.ceil(scale * source.width), height: Math.ceil(scale * source.height) };
  return {
    resized,
    top: pyRound((resized.height - target.height) / 2),
    left: pyRound((resized.width - target.width) / 2),
  };
}

/** `VideoProcessor.classify_height_width_bin` over the tier's bins: the closest height/width ratio (first on ties). */
export function actionCanvasSize(source: MediaSize, tier: Resolution): MediaSize {
  const ar = source.height / source.width;
  let best: MediaSize | undefined;
  for (const ratio of ACTION_BIN_ORDER) {
    const bin = RESOLUTION_TABLE[tier][ratio];
    if (!best || Math.abs(bin.height / bin.width - ar) < Math.abs(best.height / best.width - ar)) best = bin;
  }
  return { ...best! };
}

/** The clip of an action run on its canvas (`_prepare_action_video_conditioning`). */
export function actionCanvas(
  source: MediaSize & { frames: number },
  tier: Resolution,
  numFrames: number,
  spatialCompression = 16,
): ActionCanvas {
  const observation = source;
  source = {
    width: source.width - (source.width % spatialCompression),
    height: source.height - (source.height % spatialCompression),
    frames: source.frames,
  };
  if (source.width < 1 || source.height < 1) {
    fail(
      "image",
      `${observation.width}x${observation.height}`,
      `at least ${spatialCompression}x${spatialCompression} pixels`,
      `the observation is cut to whole multiples of ${spatialCompression} pixels, which leaves nothing`,
    );
  }
  const canvas = actionCanvasSize(source, tier);
  const scale = Math.min(canvas.width / source.width, canvas.height / source.height, 1);
  const content = {
    width: Math.max(1, Math.trunc(scale * source.width + 0.5)),
    height: Math.max(1, Math.trunc(scale * source.height + 0.5)),
  };
  const padRight = canvas.width - content.width;
  const padBottom = canvas.height - content.height;
  const padMode = !padRight && !padBottom
    ? "none"
    : padRight >= content.width || padBottom >= content.height
    ? "replicate"
    : "reflect";
  const frameMap = Array.from({ length: numFrames }, (_, i) => Math.min(i, source.frames - 1));
  return {
    tier,
    source: { width: source.width, height: source.height },
    canvas,
    content,
    padRight,
    padBottom,
    padMode,
    frameMap,
  };
}

function checkSize(run: GeneratorRun, model: GeneratorModelConfig): MediaSize {
  const sf = model.spatialCompression;
  const width = positiveInt("width", run.width, "an output width");
  const height = positiveInt("height", run.height, "an output height");
  for (const [field, v] of [["width", width], ["height", height]] as const) {
    if (v % sf !== 0) {
      fail(
        field,
        v,
        `a multiple of ${sf}`,
        `the VAE compresses ${sf} pixels into one latent, so ${field} must be a multiple of ${sf}`,
      );
    }
  }
  return { width, height };
}

function checkFrames(run: GeneratorRun, model: GeneratorModelConfig): number {
  const tc = VAE_TEMPORAL_COMPRESSION;
  if (run.task === "t2i") {
    if (run.numFrames !== undefined && run.numFrames !== 1) {
      fail("numFrames", run.numFrames, "1", "an image is one frame");
    }
    return 1;
  }
  const f = positiveInt("numFrames", run.numFrames, "a frame count");
  if (f < 2 || (f - 1) % tc !== 0) {
    fail(
      "numFrames",
      f,
      `${tc}k + 1 frames (${tc + 1}, ${2 * tc + 1}, ...)`,
      `the VAE encodes frame 0 alone, then ${tc} frames per latent`,
    );
  }
  return f;
}

function videoConditioning(run: GeneratorRun, numFrames: number, latentT: number): VideoConditioning {
  const video = run.video;
  if (!video) fail("video", undefined, "a video", "video-to-video needs a source video");
  positiveInt("video.frames", video.frames, "the source video's frame count");
  const indexes = [...(run.conditionFrameIndexes ?? DEFAULT_CONDITION_FRAME_INDEXES)];
  if (indexes.length === 0) {
    fail("conditionFrameIndexes", indexes, "at least one latent index", "no frame to condition on");
  }
  for (const i of indexes) {
    if (!Number.isInteger(i) || i < 0) {
      fail("conditionFrameIndexes", indexes, "whole numbers ≥ 0", `${i} is not a latent index`);
    }
    if (i >= latentT) {
      fail(
        "conditionFrameIndexes",
        indexes,
        `latent indexes 0..${latentT - 1}`,
        `latent frame ${i} is past the ${latentT} latent frames of ${numFrames} frames`,
      );
    }
  }
  if (new Set(indexes).size >= latentT) {
    // The engine needs a noisy latent to denoise (cosmos3_generator.cc refuses an all-clean request); the server
    // would run such a request and return the source re-encoded, so it is refused here with what to change.
    fail(
      "conditionFrameIndexes",
      indexes,
      `at most ${latentT - 1} of the latent indexes 0..${latentT - 1}`,
      `every latent frame of the ${numFrames} frames would be kept from the source video, so nothing is left to ` +
        "generate: ask for more frames or keep fewer latent frames",
    );
  }
  const keep = run.conditionVideoKeep ?? DEFAULT_CONDITION_VIDEO_KEEP;
  const wanted = conditionPixelFrames(indexes);
  // Python slicing: [:m] or [-m:], both clipped to the video.
  const first = keep === "first" ? 0 : Math.max(0, video.frames - wanted);
  const used = Math.min(wanted, video.frames);
  const fill = Math.min(used, numFrames);
  const frameMap = Array.from({ length: numFrames }, (_, i) => first + Math.min(i, fill - 1));
  return { keep, conditionFrameIndexes: [...new Set(indexes)].sort((a, b) => a - b), frameMap };
}

function actionValues(settings: ActionRunSettings, actionDim: number): Float32Array {
  const rows = settings.rows;
  if (!rows || rows.length === 0) {
    fail("actions", rows, `rows of ${settings.rawActionDim} numbers`, "forward dynamics needs an action chunk");
  }
  rows.forEach((row, i) => {
    if (row.length !== settings.rawActionDim) {
      fail(
        `actions.${i}`,
        row.length,
        `${settings.rawActionDim} numbers`,
        `row ${i} is not ${settings.domainName}'s width`,
      );
    }
  });
  const chunk = settings.chunkSize;
  const values = new Float32Array(chunk * actionDim);
  for (let i = 0; i < chunk; i++) values.set(rows[Math.min(i, rows.length - 1)], i * actionDim);
  return values;
}

function planAction(run: GeneratorRun, model: GeneratorModelConfig) {
  const settings = run.action;
  const mode = run.task as ActionMode;
  if (!settings) fail("action", undefined, "chunk size, domain and width", `${mode} needs its action settings`);
  if (!model.actionGen || model.actionDim === undefined) {
    fail("mode", mode, "t2i, t2v, i2v, v2v", "this checkpoint has no action heads (transformer action_gen is false)");
  }
  const chunk = positiveInt("actionChunkSize", settings.chunkSize, "an action chunk size");
  const clipFrames = chunk + 1;
  if (run.numFrames !== undefined && run.numFrames !== chunk && run.numFrames !== clipFrames) {
    fail(
      "numFrames",
      run.numFrames,
      `${chunk} or ${clipFrames} (actionChunkSize ${chunk})`,
      "the model takes one action per frame transition",
    );
  }
  if (settings.rawActionDim > model.actionDim) {
    fail(
      "embodiment",
      settings.domainName,
      `an action width ≤ ${model.actionDim}`,
      `${settings.rawActionDim}-wide actions exceed the model's action_dim`,
    );
  }
  const domainId = DOMAIN_IDS[settings.domainName];
  if (domainId === undefined || domainId >= model.numEmbodimentDomains) {
    fail(
      "domainName",
      settings.domainName,
      `a domain below ${model.numEmbodimentDomains}`,
      "the checkpoint has no such domain",
    );
  }
  if (mode === "inverse_dynamics" && !run.video) fail("video", undefined, "a video", "inverse dynamics needs a video");
  const source = run.video ?? (run.image ? { ...run.image, frames: 1 } : undefined);
  if (!source) fail("image", undefined, "an image or a video", `${mode} needs an observation`);
  positiveInt("width", source.width, "the observation's width");
  positiveInt("height", source.height, "the observation's height");
  const canvas = actionCanvas(
    source,
    settings.resolutionTier ?? DEFAULT_RESOLUTION,
    clipFrames,
    model.spatialCompression,
  );
  const sf = model.spatialCompression;
  const latentT = latentFrames(clipFrames);
  // Latents of the padded canvas, then the padding cropped off (`_remove_action_video_padding_from_latent`).
  const latentH = Math.max(Math.floor(canvas.content.height / sf), 1);
  const latentW = Math.max(Math.floor(canvas.content.width / sf), 1);
  const cleanLatent = mode === "inverse_dynamics" ? range(latentT) : [0];
  const all = range(chunk);
  const action: ActionPlan = {
    tokens: chunk,
    actionDim: model.actionDim,
    rawActionDim: settings.rawActionDim,
    domainName: settings.domainName,
    domainId,
    cleanTokens: mode === "forward_dynamics" ? all : [],
    noisyTokens: mode === "forward_dynamics" ? [] : all,
    predicts: mode !== "forward_dynamics",
  };
  if (mode === "forward_dynamics") action.values = actionValues(settings, model.actionDim);
  return { clipFrames, canvas, latentT, latentH, latentW, cleanLatent, action };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Plans one run (see the module doc); a ValidationError when the checkpoint cannot take it. */
export function planGeneration(
  run: GeneratorRun,
  model: GeneratorModelConfig = DEFAULT_GENERATOR_MODEL,
): GeneratorPlan {
  if (!(run.fps > 0)) fail("fps", run.fps, "a frame rate > 0", "the frame rate sets the positions and the caption");
  const sound = run.sound ?? false;
  if (sound && !model.soundGen) {
    fail("sound", true, "false", "this checkpoint makes no sound (no sound_gen transformer or sound_tokenizer)");
  }
  const sf = model.spatialCompression;
  const p = model.latentPatchSize;
  const tc = VAE_TEMPORAL_COMPRESSION;
  let width: number, height: number, numFrames: number, latentT: number, latentH: number, latentW: number;
  let clean: number[] = [];
  const out: Partial<GeneratorPlan> = {};
  let promptSize: MediaSize;
  const isAction = run.task === "policy" || run.task === "forward_dynamics" || run.task === "inverse_dynamics";
  if (model.distilled) checkDistilledRun(run, isAction, model.distilled.sigmas.length);
  if (isAction) {
    const a = planAction(run, model);
    numFrames = a.clipFrames;
    latentT = a.latentT;
    latentH = a.latentH;
    latentW = a.latentW;
    width = latentW * sf;
    height = latentH * sf;
    clean = a.cleanLatent;
    out.actionCanvas = a.canvas;
    out.action = a.action;
    // The caption and templates name the canvas the model is conditioned on (__call__ 1476-1489).
    promptSize = a.canvas.canvas;
  } else {
    ({ width, height } = checkSize(run, model));
    numFrames = checkFrames(run, model);
    latentT = latentFrames(numFrames);
    latentH = height / sf;
    latentW = width / sf;
    promptSize = { width, height };
    if (run.task === "i2v") {
      if (!run.image) fail("image", undefined, "an image", "image-to-video needs an image");
      positiveInt("image.width", run.image.width, "the image's width");
      positiveInt("image.height", run.image.height, "the image's height");
      out.image = {
        source: { width: run.image.width, height: run.image.height },
        ...coverCrop(run.image, { width, height }),
      };
      clean = [0];
    } else if (run.task === "v2v") {
      out.video = videoConditioning(run, numFrames, latentT);
      clean = out.video.conditionFrameIndexes;
    } else if (run.task !== "t2i" && run.task !== "t2v") {
      fail("task", run.task, "t2i, t2v, i2v, v2v, policy, forward_dynamics, inverse_dynamics", "unknown task");
    }
  }
  const patchGrid = { t: latentT, h: Math.ceil(latentH / p), w: Math.ceil(latentW / p) };
  if (sound) {
    const samples = Math.trunc(numFrames / run.fps * model.soundSampleRate);
    out.sound = {
      channels: model.soundDim ?? 0,
      frames: Math.ceil(samples / model.soundHopSize),
      samples,
    };
  }
  const cleanSet = new Set(clean);
  return {
    task: run.task,
    width,
    height,
    numFrames,
    fps: run.fps,
    outputFrames: (latentT - 1) * tc + 1,
    latent: { channels: model.latentChannels, t: latentT, h: latentH, w: latentW },
    patchGrid,
    visionTokens: patchGrid.t * patchGrid.h * patchGrid.w,
    cleanLatentFrames: [...cleanSet].sort((a, b) => a - b),
    noisyLatentFrames: range(latentT).filter((i) => !cleanSet.has(i)),
    ...out,
    sampler: {
      numInferenceSteps: positiveInt("numInferenceSteps", run.numInferenceSteps, "a step count"),
      guidanceScale: run.guidanceScale,
      flowShift: run.flowShift,
      cfg: run.guidanceScale !== 1,
      guidanceInterval: checkedGuidanceInterval(run.guidanceInterval),
      ...(model.distilled ? { sigmas: [...model.distilled.sigmas] } : {}),
    },
    prompt: {
      prompt: run.prompt,
      negativePrompt: run.negativePrompt,
      numFrames,
      height: promptSize.height,
      width: promptSize.width,
      fps: run.fps,
      addResolutionTemplate: run.addResolutionTemplate ?? false,
      addDurationTemplate: run.addDurationTemplate ?? false,
      action: isAction
        ? { viewPoint: run.action?.viewPoint === undefined ? DEFAULT_ACTION_VIEWPOINT : run.action.viewPoint }
        : undefined,
      useSystemPrompt: run.useSystemPrompt ?? model.defaultUseSystemPrompt,
      maxSequenceLength: run.maxSequenceLength,
    },
    grids: {
      vision: patchGrid,
      fps: run.fps,
      soundFrames: out.sound?.frames,
      actionTokens: out.action?.tokens,
    },
  };
}

/** One CFG branch: the packed layout, its positions and which tokens are noisy. */
export interface BranchLayout extends PackedPositions {
  /** 1 where a generation token is noisy: it gets the timestep embedding and its prediction is read. */
  noisyMask: Uint8Array;
  /** The same tokens as sequence indexes, ascending (vision, then sound, then action). */
  noisyTokens: Int32Array;
}

/**
 * The packed sequence of one CFG branch whose prompt has `textLength` ids: [text | vision | sound |
 * action], its positions, and the noisy tokens (the reference's `*_mse_loss_indexes`, where the
 * timestep embedding is added: `_apply_timestep_embeds_to_noisy_tokens` of transformer_cosmos3.py).
 */
export function branchLayout(
  plan: GeneratorPlan,
  textLength: number,
  model: GeneratorModelConfig = DEFAULT_GENERATOR_MODEL,
): BranchLayout {
  const packed = packedPositions(textLength, plan.grids, model);
  const noisyMask = new Uint8Array(packed.length);
  const perFrame = plan.patchGrid.h * plan.patchGrid.w;
  for (const f of plan.noisyLatentFrames) {
    noisyMask.fill(1, packed.vision.start + f * perFrame, packed.vision.start + (f + 1) * perFrame);
  }
  if (packed.sound) noisyMask.fill(1, packed.sound.start, packed.sound.start + packed.sound.count);
  if (packed.action && plan.action) { for (const i of plan.action.noisyTokens) noisyMask[packed.action.start + i] = 1; }
  let count = 0;
  for (let i = 0; i < noisyMask.length; i++) count += noisyMask[i];
  const noisyTokens = new Int32Array(count);
  for (let i = 0, k = 0; i < noisyMask.length; i++) if (noisyMask[i]) noisyTokens[k++] = i;
  return { ...packed, noisyMask, noisyTokens };
}

/** A run's guidance interval, checked: `[lo, hi]` inside the timestep scale; absent: every step. */
function checkedGuidanceInterval(v: readonly [number, number] | undefined): readonly [number, number] {
  if (v === undefined) return GUIDANCE_EVERY_STEP;
  const [min, max] = TIMESTEP_RANGE;
  const [lo, hi] = v;
  if (!(v.length === 2 && min <= lo && lo <= hi && hi <= max)) {
    fail(
      "guidanceInterval",
      v,
      `[lo, hi] with ${min} <= lo <= hi <= ${max} (scheduler timesteps)`,
      "the steps that apply CFG are those whose timestep is in [lo, hi]",
    );
  }
  return [lo, hi];
}

/** Sizes of the conditioning media a run reads (probe them before planning). */
export interface RunMedia {
  image?: MediaSize;
  video?: MediaSize & { frames: number };
}

/** A distilled checkpoint (diffusers' Cosmos3DistilledBlocks) runs the vision modes on its fixed schedule, guidance 1. */
function checkDistilledRun(run: GeneratorRun, isAction: boolean, steps: number): void {
  const why = "a distilled checkpoint samples on its fixed schedule (modular_model_index.json distilled_sigmas)";
  if (isAction) fail("task", run.task, "t2i, t2v, i2v, v2v", `${why} for the vision modes only`);
  if (run.numInferenceSteps !== steps) fail("numInferenceSteps", run.numInferenceSteps, `${steps}`, why);
  if (run.guidanceScale !== 1) {
    fail("guidanceScale", run.guidanceScale, "1", "a distilled checkpoint has classifier-free guidance in its weights");
  }
}

/**
 * The run of a validated `generate()` request: its effective settings (the per-mode defaults of
 * src/schema/diffusion_defaults.ts included) and the conditioning media's sizes.
 */
export function generateRun(req: GenerateRequest, media: RunMedia = {}): GeneratorRun {
  const e = req.effective;
  const mode = generationMode(req);
  const task: GeneratorTask = mode === "text-to-image"
    ? "t2i"
    : mode.startsWith("image-to-video")
    ? "i2v"
    : mode.startsWith("video-to-video")
    ? "v2v"
    : "t2v";
  return {
    task,
    sound: req.sound,
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    width: e.width,
    height: e.height,
    numFrames: e.numFrames,
    fps: e.fps,
    numInferenceSteps: e.numInferenceSteps,
    guidanceScale: e.guidanceScale,
    flowShift: e.flowShift,
    guidanceInterval: e.guidanceInterval,
    addResolutionTemplate: req.useResolutionTemplate ?? false,
    addDurationTemplate: req.useDurationTemplate ?? false,
    maxSequenceLength: e.maxSequenceLength,
    conditionFrameIndexes: e.conditionFrameIndexes,
    conditionVideoKeep: e.conditionVideoKeep,
    image: task === "i2v" ? media.image : undefined,
    video: task === "v2v" ? media.video : undefined,
  };
}

/**
 * The run of a validated `rollout()` request; `rows` are the action rows when `req.actions` is a
 * file path (read it first), and `media` the observation's size (and the video's frame count).
 */
export function rolloutRun(
  req: RolloutRequest,
  media: RunMedia,
  rows?: readonly (readonly number[])[],
): GeneratorRun {
  const e = req.effective;
  const actionRows = Array.isArray(req.actions) ? req.actions : rows;
  const chunk = e.actionChunkSize ?? actionRows?.length;
  if (chunk === undefined) {
    fail("actions", req.actions, "action rows", "the action file's rows set the chunk size: read it before planning");
  }
  return {
    task: req.mode,
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    numFrames: e.numFrames,
    fps: e.fps,
    numInferenceSteps: e.numInferenceSteps,
    guidanceScale: e.guidanceScale,
    flowShift: e.flowShift,
    guidanceInterval: e.guidanceInterval,
    maxSequenceLength: e.maxSequenceLength,
    image: req.image ? media.image : undefined,
    video: req.video ? media.video : undefined,
    action: {
      chunkSize: chunk,
      domainName: e.domainName,
      rawActionDim: e.rawActionDim,
      resolutionTier: e.resolution,
      rows: actionRows,
    },
  };
}
