/**
 * A loaded Cosmos 3 Generator checkpoint (diffusers layout: `transformer/`, `vae/`, `scheduler/`,
 * `text_tokenizer/`, `model_index.json`) on the native engine: the planning facts, the prompt
 * tokenizer and the engine (NativeCosmos3Generator of native/src/binding/cosmos3_generator_binding.cc),
 * kept per checkpoint so a notebook pays the load once. Runs go through one first-in first-out queue
 * per session, as the Reasoner's (`queue.ts`); `free()` / `[Symbol.asyncDispose]()` / `closeNative()`
 * close it.
 *
 * {@link Cosmos3GeneratorSession.run} takes a planned run (src/generator: `planGeneration` +
 * `generatorInputs`) and the conditioning pixels, and returns the final latents (and, when asked, the
 * latents after every step) and the decoded frames in [-1, 1], channel-first; a plan with sound also returns
 * the sound latents and the decoded waveform ([channels, samples] at the sound tokenizer's sampling rate).
 *
 * A checkpoint folder may carry `cosmos-ts.json` (this project's notes on its own checkpoints, read by
 * {@link readCheckpointNotes}): `{ "untrained": true }` (the tiny test fixture `test/fixtures/cosmos3-tiny`): its
 * outputs are noise by design, and `generate()` labels them so; `"text_to_video": "first_frame_anchored"` or
 * `"image_anchored"` (the mini Generator): `generate()` runs text-to-video as the checkpoint's recipe, in two passes
 * (src/api/native_generate.ts, {@link TextToVideoRecipe}); `"first_frame_check"`: pass 1's first frame judged by a
 * Reasoner checkpoint ({@link FirstFrameCheck}); `"prompt_places": true`: the weights were trained on prompts that
 * say where each object stands, and `generate()` writes places into a text-to-video or text-to-image prompt that
 * names its objects without them (src/world `promptWithPlaces`).
 *
 * @example
 * ```ts
 * import { openCosmos3Generator } from "./generator.ts";
 * import { generatorInputs, planGeneration } from "../generator/mod.ts";
 * const s = await openCosmos3Generator("test/fixtures/cosmos3-tiny");
 * const plan = planGeneration({
 *   task: "t2v", prompt: "Waves.", width: 96, height: 64, numFrames: 9, fps: 24,
 *   numInferenceSteps: 3, guidanceScale: 3, flowShift: 10,
 * }, s.model);
 * const r = await s.run({ plan, inputs: generatorInputs(plan, s.tokenizer, s.model), seed: 1 });
 * r.video?.length; // 3 * 9 * 64 * 96
 * ```
 * @module
 */
import { existsSync } from "node:fs";
import { readFile, realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import { resolveCheckpoint } from "../checkpoint/mod.ts";
import { CheckpointError, NativeError, throwIfAborted, ValidationError } from "../errors.ts";
import {
  type GeneratorInputs,
  type GeneratorModelConfig,
  type GeneratorPlan,
  type GeneratorTextTokenizer,
  loadGeneratorModelConfig,
  loadGeneratorTextTokenizer,
} from "../generator/mod.ts";
import type { ProgressEvent } from "../schema/results.ts";
import type { RawGenerator, RawGeneratorLoadOptions, RawGeneratorRequest, RawGeneratorResult } from "./addon_types.ts";
import { fromNative, nativeCode } from "./errors.ts";
import { loadAddon } from "./load.ts";
import { RunQueue } from "./queue.ts";
import { checkpointSession, openCheckpoints, track, untrack } from "./registry.ts";
import { REBUILD_HINT } from "./addon_types.ts";

/** One run of a planned request. */
export interface GeneratorRunInput {
  plan: GeneratorPlan;
  inputs: GeneratorInputs;
  /**
   * Pixels of the clean latent frames, [3, frames, height, width] in [-1, 1], frames = 1 + 4 ·
   * max(clean latent frame) (the causal prefix of the conditioning clip). Needed when the plan has clean frames.
   * Action runs: frames of the padded canvas (`plan.actionCanvas.canvas`), whose latents are cropped to the content.
   */
  condVideo?: Float32Array;
  /** The initial noise [channels, t, h, w] (the fidelity tests inject diffusers'); else drawn from `seed`. */
  noise?: Float32Array;
  /** Distilled checkpoints: each step's re-noising draw, [steps, channels, t, h, w]; else drawn from `seed`. */
  stepNoise?: Float32Array;
  /** Action runs: the initial action noise [tokens, action_dim]; else drawn from `seed` + 1. */
  actionNoise?: Float32Array;
  /** Runs with sound: the initial sound noise [sound_dim, sound frames]; else drawn from `seed` + 2. */
  soundNoise?: Float32Array;
  /** Seed of the engine's own noise (default 0). */
  seed?: number;
  /** Decode to frames (default true). */
  decode?: boolean;
  /** Keep the latents after every step (tests). */
  keepStepLatents?: boolean;
  /** Karras sigmas as the checkpoint's scheduler config says (default false: the documented flow-shift schedule). */
  useKarrasSigmas?: boolean;
  signal?: AbortSignal;
  /** `denoise` per step (with it/s and ETA in the message), `encode` / `decode` per VAE chunk. */
  onProgress?: (event: ProgressEvent) => void;
}

/** What a run returns (host copies). */
export type GeneratorRunOutput = RawGeneratorResult;

/** How a checkpoint is loaded (the native backend spec's `quantization`, src/schema/results.ts). */
export type GeneratorLoadOptions = RawGeneratorLoadOptions;

const STAGES = ["encode", "denoise", "decode"] as const;

/** "2/30 steps, 1.25 it/s, ETA 22.4 s" for step progress. */
function stepMessage(done: number, total: number, startMs: number, nowMs: number): string {
  const secs = (nowMs - startMs) / 1000;
  const rate = secs > 0 ? done / secs : 0;
  const eta = rate > 0 ? (total - done) / rate : 0;
  return `step ${done}/${total}, ${rate.toFixed(2)} it/s, ETA ${eta.toFixed(1)} s`;
}

/** A loaded checkpoint (see the module docs). */
export class Cosmos3GeneratorSession {
  readonly #queue = new RunQueue();
  #closing?: Promise<void>;
  readonly #tracked = { free: () => void this.free() };

  private constructor(
    /** The checkpoint folder (real path). */
    readonly dir: string,
    /** What planning reads from the checkpoint. */
    readonly model: GeneratorModelConfig,
    readonly tokenizer: GeneratorTextTokenizer,
    /** The checkpoint's `cosmos-ts.json` says its weights are untrained (a test fixture). */
    readonly untrained: boolean,
    /** How `generate()` runs text-to-video on this checkpoint (`cosmos-ts.json` `text_to_video`; "direct" without). */
    readonly textToVideo: TextToVideoRecipe,
    /** The two-pass recipe's first-frame check (`cosmos-ts.json` `first_frame_check`), if the checkpoint notes one. */
    readonly firstFrameCheck: FirstFrameCheck | undefined,
    /** The weights read prompts with places (`cosmos-ts.json` `prompt_places`); false without. */
    readonly promptPlaces: boolean,
    readonly raw: RawGenerator,
    /** "fp8" when loaded with `{ quantization: "fp8" }`. */
    readonly quantization: "none" | "fp8",
  ) {
    track(this.#tracked);
  }

  /** Loads a checkpoint; use {@link openCosmos3Generator} to share loaded sessions. */
  static async load(
    idOrPath: string,
    onProgress?: (e: ProgressEvent) => void,
    options: GeneratorLoadOptions = {},
  ): Promise<Cosmos3GeneratorSession> {
    onProgress?.({ stage: "load", done: 0, total: 2, message: `Reading ${idOrPath}` });
    const { dir } = await resolveCheckpoint(idOrPath);
    const [model, tokenizer, notes] = await Promise.all([
      loadGeneratorModelConfig(dir),
      loadGeneratorTextTokenizer(dir),
      readCheckpointNotes(dir),
    ]);
    const addon = loadAddon();
    if (typeof addon.loadGeneratorAsync !== "function") {
      throw new NativeError("The native module was built without the Cosmos 3 Generator.", { hint: REBUILD_HINT });
    }
    const quantization = options.quantization ?? "none";
    onProgress?.({
      stage: "load",
      done: 1,
      total: 2,
      message: `Loading the transformer and VAE weights${quantization === "fp8" ? " (fp8 gen-stream linears)" : ""}`,
    });
    let raw: RawGenerator;
    try {
      raw = await addon.loadGeneratorAsync(dir, { quantization });
    } catch (e) {
      // The engine's fp8 refusal (no sm_90a FP8 GEMM here) is about the device, not the checkpoint.
      if (quantization === "fp8" && /quantization "fp8"/.test((e as Error).message)) {
        throw new NativeError((e as Error).message, {
          hint: 'leave backend.quantization out (or "none") on this GPU; fp8 needs an H100 / H200 (sm_90)',
          cause: e,
        });
      }
      throw generatorError(e, dir);
    }
    onProgress?.({ stage: "load", done: 2, total: 2, message: "Weights loaded" });
    return new Cosmos3GeneratorSession(
      dir,
      model,
      tokenizer,
      notes.untrained,
      notes.textToVideo,
      notes.firstFrameCheck,
      notes.promptPlaces,
      raw,
      quantization,
    );
  }

  /** Whether the session was closed (its weights freed). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  #closedError(): NativeError {
    return new NativeError(`The Cosmos 3 Generator session of ${this.dir} was closed (its weights are freed).`, {
      hint: "open it again with openCosmos3Generator(); generate() reopens the checkpoint by itself",
    });
  }

  /** Runs one planned request after the calls queued before it. */
  run(input: GeneratorRunInput): Promise<GeneratorRunOutput> {
    if (this.#closing) return Promise.reject(this.#closedError());
    return this.#queue.run(() => this.#run(input), input.signal);
  }

  async #run(input: GeneratorRunInput): Promise<GeneratorRunOutput> {
    throwIfAborted(input.signal);
    const request = rawRequest(input);
    const { signal, onProgress } = input;
    let stepStart = Date.now();
    const onCode = (code: number) => {
      const stage = STAGES[Math.floor(code / 1e6)];
      const done = Math.floor(code / 1e3) % 1e3;
      const total = code % 1e3;
      if (!stage || !onProgress) return;
      if (stage === "denoise") {
        onProgress({ stage, done, total, message: stepMessage(done, total, stepStart, Date.now()) });
      } else {
        onProgress({ stage, done, total, message: `VAE ${stage} chunk ${done}/${total}` });
      }
    };
    const abort = () => this.raw.abort();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      onProgress?.({ stage: "prefill", message: `text: ${request.cond.ids.length} cond tokens` });
      stepStart = Date.now();
      return await this.raw.generate(request, onCode);
    } catch (e) {
      throw generatorError(e, this.dir);
    } finally {
      signal?.removeEventListener("abort", abort);
    }
  }

  /** Closes the session: waiting calls reject, the running one ends, then the weights are freed. */
  free(): Promise<void> {
    this.#closing ??= (async () => {
      untrack(this.#tracked);
      for (const c of openCheckpoints()) c.forget(this);
      await this.#queue.close(() => this.#closedError());
      this.raw.free();
    })();
    return this.#closing;
  }

  /** {@link Cosmos3GeneratorSession.free}, for `await using s = await openCosmos3Generator(dir)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.free();
  }
}

/** fromNative, with the Generator's own words for a checkpoint or request the engine refused. */
function generatorError(e: unknown, dir: string): Error {
  const code = nativeCode(e);
  if (code === "MODEL" || code === "CONFIG") {
    return new CheckpointError(
      `The Cosmos 3 Generator engine refused ${dir} or the request (${code}): ${(e as Error).message}`,
      {
        hint:
          "check transformer/, vae/ and scheduler/ (config.json and the safetensors) of the diffusers-layout checkpoint",
        cause: e,
      },
    );
  }
  return fromNative(e);
}

/**
 * How `generate()` runs text-to-video on a checkpoint: "direct", the pipeline's one pass (every real checkpoint);
 * or two passes, a first frame and then image-to-video from it with the same prompt, settings and seed, the first
 * frame being the first frame of a text-to-video pass ("first_frame_anchored") or a text-to-image pass at the
 * video's size ("image_anchored"). The mini Generator's recipes: it moves the objects of a given first frame far
 * more reliably than it draws the scene from text and moves it in one pass (checkpoints/mini-generator/README.md
 * has the figures).
 */
export type TextToVideoRecipe = "direct" | "first_frame_anchored" | "image_anchored";

/**
 * A two-pass recipe's first-frame check (`cosmos-ts.json` `"first_frame_check": { "reasoner": "../mini-reasoner",
 * "candidates": 5 }`, the mini Generator's): pass 1 is drawn up to `candidates` times and a Reasoner checkpoint
 * judges each first frame (src/api/first_frame_check.ts).
 */
export interface FirstFrameCheck {
  /** The Reasoner checkpoint folder (absolute; the note gives it relative to the Generator's folder). */
  reasoner: string;
  /** How many first frames pass 1 may draw, 1-8. */
  candidates: number;
  /**
   * `"count_colors": true`: the Reasoner is also asked for every object of each subject's colour ("Locate every red
   * object.") and the frame passes only with one box of it, which catches a colour drawn twice (a Reasoner trained
   * with `world_data.ts --color-grounding-share`); default false.
   */
  countColors: boolean;
  /**
   * `"places": true`: when the prompt says where an event's object stands ("an orange ball on the left near the
   * camera"), its one box must be centred in that column (src/api/first_frame_check.ts); default false.
   */
  places: boolean;
}

/** What this project notes about a checkpoint in its `cosmos-ts.json` (absent: a real checkpoint). */
export interface CheckpointNotes {
  untrained: boolean;
  textToVideo: TextToVideoRecipe;
  firstFrameCheck?: FirstFrameCheck;
  /** `"prompt_places": true`: trained on prompts that say where each object stands (default false). */
  promptPlaces: boolean;
}

const MAX_FIRST_FRAME_CANDIDATES = 8;

const TEXT_TO_VIDEO_RECIPES: readonly TextToVideoRecipe[] = ["direct", "first_frame_anchored", "image_anchored"];

/**
 * Reads `cosmos-ts.json` of a checkpoint folder: none, or one that is not JSON, notes nothing (a real checkpoint's
 * folder is not ours to judge); a `text_to_video` that is not a known recipe, or a `first_frame_check` without a
 * two-pass recipe, with `candidates` outside 1-8 or no Reasoner checkpoint at `reasoner`, or a `prompt_places` that is
 * not true or false, is a CheckpointError naming the field and the allowed values.
 */
export async function readCheckpointNotes(dir: string): Promise<CheckpointNotes> {
  const path = join(dir, "cosmos-ts.json");
  const notes: CheckpointNotes = { untrained: false, textToVideo: "direct", promptPlaces: false };
  if (!existsSync(path)) return notes;
  let v: { untrained?: unknown; text_to_video?: unknown; first_frame_check?: unknown; prompt_places?: unknown };
  try {
    v = JSON.parse(await readFile(path, "utf8")) ?? {};
  } catch {
    return notes;
  }
  notes.untrained = v.untrained === true;
  if (v.text_to_video !== undefined) {
    if (!TEXT_TO_VIDEO_RECIPES.includes(v.text_to_video as TextToVideoRecipe)) {
      throw new CheckpointError(
        `${path}: text_to_video ${JSON.stringify(v.text_to_video)} is not a recipe of this version; allowed: ${
          TEXT_TO_VIDEO_RECIPES.map((r) => `"${r}"`).join(", ")
        }`,
        { hint: 'remove "text_to_video" from cosmos-ts.json (the pipeline\'s one pass) or set an allowed value' },
      );
    }
    notes.textToVideo = v.text_to_video as TextToVideoRecipe;
  }
  if (v.first_frame_check !== undefined) {
    notes.firstFrameCheck = firstFrameCheckOf(v.first_frame_check, notes, dir, path);
  }
  if (v.prompt_places !== undefined && typeof v.prompt_places !== "boolean") {
    throw new CheckpointError(`${path}: prompt_places ${JSON.stringify(v.prompt_places)} is not true or false`, {
      hint: 'set "prompt_places" to true or false, or remove it (prompts are then used as written)',
    });
  }
  notes.promptPlaces = v.prompt_places === true;
  return notes;
}

/** `first_frame_check` of a `cosmos-ts.json`, validated: CheckpointError naming the field and what is allowed. */
function firstFrameCheckOf(value: unknown, notes: CheckpointNotes, dir: string, path: string): FirstFrameCheck {
  const fail = (what: string, hint: string) =>
    new CheckpointError(`${path}: first_frame_check ${what}`, {
      hint: `${hint}, or remove "first_frame_check" from cosmos-ts.json (pass 1 then draws one first frame)`,
    });
  if (notes.textToVideo === "direct") {
    throw fail(
      "needs a two-pass text_to_video recipe",
      'set "text_to_video" to "first_frame_anchored" or "image_anchored"',
    );
  }
  const c = value as { reasoner?: unknown; candidates?: unknown; count_colors?: unknown; places?: unknown } | null;
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw fail("is not an object", 'write it as { "reasoner": "<folder>", "candidates": 3 }');
  }
  const n = c.candidates;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_FIRST_FRAME_CANDIDATES) {
    throw fail(
      `.candidates ${JSON.stringify(n)} is not an integer from 1 to ${MAX_FIRST_FRAME_CANDIDATES}`,
      "set candidates to an integer from 1 to 8",
    );
  }
  if (c.count_colors !== undefined && typeof c.count_colors !== "boolean") {
    throw fail(
      `.count_colors ${JSON.stringify(c.count_colors)} is not true or false`,
      "set count_colors to true or false",
    );
  }
  if (c.places !== undefined && typeof c.places !== "boolean") {
    throw fail(`.places ${JSON.stringify(c.places)} is not true or false`, "set places to true or false");
  }
  if (typeof c.reasoner !== "string" || c.reasoner.trim() === "") {
    throw fail(".reasoner is not a folder name", "name the Reasoner checkpoint folder, relative to this one");
  }
  const reasoner = resolve(dir, c.reasoner);
  if (!existsSync(join(reasoner, "config.json"))) {
    throw fail(
      `.reasoner ${JSON.stringify(c.reasoner)}: no Reasoner checkpoint at ${reasoner} (no config.json)`,
      "put the Reasoner checkpoint there (the mini Generator's is checkpoints/mini-reasoner)",
    );
  }
  return { reasoner, candidates: n, countColors: c.count_colors === true, places: c.places === true };
}

/** The binding's request of a planned run; ValidationError when the conditioning pixels do not fit the plan. */
export function rawRequest(input: GeneratorRunInput): RawGeneratorRequest {
  const { plan, inputs } = input;
  const L = plan.latent;
  const clean = plan.cleanLatentFrames;
  const req: RawGeneratorRequest = {
    cond: { ids: Int32Array.from(inputs.cond.inputIds), positions: inputs.cond.positions },
    guidance: plan.sampler.guidanceScale,
    guidanceInterval: [plan.sampler.guidanceInterval[0], plan.sampler.guidanceInterval[1]],
    latentShape: [L.t, L.h, L.w],
    steps: plan.sampler.numInferenceSteps,
    flowShift: plan.sampler.flowShift,
    useKarrasSigmas: input.useKarrasSigmas ?? false,
    decode: input.decode ?? true,
    keepStepLatents: input.keepStepLatents ?? false,
  };
  if (inputs.uncond) req.uncond = { ids: Int32Array.from(inputs.uncond.inputIds), positions: inputs.uncond.positions };
  if (clean.length > 0) {
    const frames = 1 + 4 * Math.max(...clean);
    const size = plan.actionCanvas?.canvas ?? { width: plan.width, height: plan.height };
    const want = 3 * frames * size.height * size.width;
    if (!input.condVideo || input.condVideo.length !== want) {
      throw new ValidationError([{
        field: "condVideo",
        value: input.condVideo?.length,
        allowed: `${want} floats ([3, ${frames}, ${size.height}, ${size.width}])`,
        message: `the clean latent frames ${clean.join(", ")} are encoded from ${frames} frames of pixels`,
      }]);
    }
    req.cleanFrames = Int32Array.from(clean);
    req.condVideo = input.condVideo;
    req.condFrames = frames;
    if (plan.actionCanvas) {
      req.condHeight = size.height;
      req.condWidth = size.width;
    }
  }
  const a = plan.action;
  if (a) {
    req.actionLen = a.tokens;
    req.domainId = a.domainId;
    req.rawActionDim = a.rawActionDim;
    if (a.cleanTokens.length > 0) {
      req.actionClean = Int32Array.from(a.cleanTokens);
      req.actionValues = a.values ?? new Float32Array(a.tokens * a.actionDim);
    }
    if (input.actionNoise) req.actionNoise = input.actionNoise;
  }
  if (plan.sound) {
    req.soundLen = plan.sound.frames;
    if (input.soundNoise) req.soundNoise = input.soundNoise;
  }
  if (plan.sampler.sigmas) {
    // A distilled checkpoint: its fixed sigmas, and the clean frames re-imposed after every (re-noising) step.
    req.sigmas = plan.sampler.sigmas;
    req.reanchorClean = true;
  }
  if (input.stepNoise) req.stepNoise = input.stepNoise;
  if (input.noise) req.noise = input.noise;
  if (input.seed !== undefined) req.seed = input.seed;
  return req;
}

/**
 * The session of a checkpoint folder or HF repo id, loading it on first use (concurrent first calls
 * share one load). Freed by `closeNative()` or the session's own `free()`. An fp8 load is a session of
 * its own (model class `"generator:fp8"`) beside the unquantized one.
 */
export async function openCosmos3Generator(
  idOrPath: string,
  onProgress?: (e: ProgressEvent) => void,
  options: GeneratorLoadOptions = {},
): Promise<Cosmos3GeneratorSession> {
  const { dir } = await resolveCheckpoint(idOrPath);
  const key = await realpath(dir);
  const kind = options.quantization === "fp8" ? "generator:fp8" : "generator";
  // One session per checkpoint for every model class: a Cosmos 3 folder's Reasoner (openQwen3VL) sits next to it.
  return await checkpointSession(key).open(kind, () => Cosmos3GeneratorSession.load(key, onProgress, options));
}
