/**
 * `reason()`, `generate()` and `rollout()` for notebooks: the library's calls (`src/api`), plus the
 * live output a notebook user expects while they run — the Reasoner's tokens streamed into one
 * output updated in place (reasoning and answer apart) and one progress bar per stage (load,
 * preprocess, prefill, decode; upload, queue, denoise, download). Pass the result to `show()`; it
 * renders only what the stream has not shown yet (the parsed boxes, events, … and a summary line).
 * A cell is then one line, as in IPython:
 *
 * ```ts
 * import { reason, show } from "./notebook.ts";
 * await show(reason({ task: "caption", video: "clip.mp4" }));
 * ```
 *
 * Outside a notebook (plain `node`, `deno run`, tests without a display sink) they are exactly the
 * library's calls: no output of their own. Import them from `kernel/notebook.ts` (which also
 * re-exports `src/mod.ts` and `kernel/mod.ts`), or from this module.
 *
 * @example
 * ```ts
 * import { reason, show } from "./notebook.ts";
 * // backend: a checkpoint folder / HF repo id (native engine) or a vLLM / NIM URL.
 * const result = await reason(
 *   { task: "custom", prompt: "Name three things a robot arm can pick up." },
 *   { backend: "test/fixtures/qwen3vl-tiny", tinyCheckpoint: true },
 * );
 * await show(result); // "parsed as text · finish: length · native:cpu (…)"
 * ```
 * @module
 */
import process from "node:process";
import { generate as libraryGenerate, reason as libraryReason, rollout as libraryRollout } from "../src/api/mod.ts";
import { describeBackend, resolveBackend } from "../src/backend/resolve.ts";
import {
  GenerateRequest,
  type GenerateRequestInput,
  type GenerationMode,
  generationMode,
} from "../src/schema/generate_request.ts";
import {
  ReasonRequest,
  type ReasonRequestInput,
  type ReasonTask,
  TINY_CHECKPOINT_CAPS,
  withMaxTokensCap,
  withTinyCheckpointCaps,
} from "../src/schema/reason_request.ts";
import { reasonerSampling, type SamplingParams } from "../src/schema/sampling.ts";
import { parseWith } from "../src/schema/validate.ts";
import { ObjectColor, ObjectShape } from "../src/world/palette.ts";
import type {
  GenerateResult,
  ProgressEvent,
  ReasonResult,
  RolloutResult,
  RunOptions,
  TokenEvent,
} from "../src/schema/results.ts";
import { RolloutRequest, type RolloutRequestInput } from "../src/schema/rollout_request.ts";
import type { ActionMode, EmbodimentId } from "../src/schema/embodiments.ts";
import { progressReporter } from "./progress.ts";
import { hasRichDisplay } from "./runtime.ts";
import { markStreamed, note } from "./show.ts";
import { streamText } from "./stream.ts";

/** Options of the notebook calls: the library's {@link RunOptions}, plus what a notebook adds. */
export interface NotebookRunOptions extends RunOptions {
  /**
   * The backend is a tiny or untrained test checkpoint (such as `test/fixtures/qwen3vl-tiny` or
   * `test/fixtures/cosmos3-tiny`): `reason()` applies `TINY_CHECKPOINT_CAPS` (at most 48 tokens, a
   * video at 4 frames) so that the call ends in about a second instead of decoding gibberish up to
   * the token limit; `generate()` and `rollout()` apply {@link TINY_GENERATOR_CAPS} (the 256p tier,
   * a few frames, 2 steps) so that they end in seconds on a CPU. Each says so under its result.
   * Leave it unset for a real checkpoint or server. Default `false`.
   */
  tinyCheckpoint?: boolean;
  /**
   * The backend is a mini checkpoint (`MINI_CHECKPOINTS`, trained by this project on a synthetic world, not
   * Cosmos 3): `reason()` (the mini Reasoner) applies {@link MINI_REASONER_CAPS} (greedy decoding, at most 256
   * tokens); `generate()` and `rollout()` (the mini Generator) apply {@link MINI_GENERATOR_CAPS} (its training
   * size 320x192, 17 frames at 10 fps, a few denoising steps, the evaluation's guidance). Each says under its
   * result whether the model was trained on the workflow, with its held-out figure. Default `false`.
   */
  miniCheckpoint?: boolean;
  /** The title above the streamed text (default: the request's task). */
  title?: string;
}

/** The library's options without the notebook's own. */
function libraryOptions(o: NotebookRunOptions): RunOptions {
  const { tinyCheckpoint: _tiny, miniCheckpoint: _mini, title: _title, ...rest } = o;
  return rest;
}

/** Calls both callbacks (the notebook's display first, then the caller's own). */
function both<E>(mine: (e: E) => void, theirs: ((e: E) => void) | undefined): (e: E) => void {
  return theirs ? (e) => (mine(e), theirs(e)) : mine;
}

/**
 * Runs `work` with one progress bar per stage, and closes every bar when it ends (also on an error).
 */
async function withProgress<T>(
  o: RunOptions,
  work: (onProgress: (e: ProgressEvent) => void) => Promise<T>,
): Promise<T> {
  const bars = progressReporter();
  try {
    return await work(both(bars, o.onProgress));
  } finally {
    await bars.finish();
  }
}

/**
 * The library's `reason()` with live output in a notebook: streamed tokens and a progress bar per
 * stage. The result is marked as streamed, so `show(result)` adds only the parsed part.
 * @throws whatever the library's `reason()` throws (`ValidationError`, `RemoteError`, …); with
 *   `show(reason(…))` a `CosmosError` is shown with its hint instead.
 * @example
 * ```ts
 * import { reason } from "./calls.ts";
 * import { show } from "./show.ts";
 * await show(reason({ task: "grounding_2d", image: "scene.png", prompt: "Locate the cup." }), { image: "scene.png" });
 * ```
 */
export async function reason(request: ReasonRequestInput, options: NotebookRunOptions = {}): Promise<ReasonResult> {
  const sent = reasonRequestSent(request, options);
  if (!hasRichDisplay()) return await libraryReason(sent, libraryOptions(options));
  const text = streamText({ title: options.title ?? sent.task ?? "custom" });
  let result: ReasonResult;
  try {
    result = await withProgress(
      options,
      (onProgress) =>
        libraryReason(sent, {
          ...libraryOptions(options),
          onProgress,
          onToken: both<TokenEvent>(text.onToken, options.onToken),
        }),
    );
  } catch (e) {
    if (text.messages > 0) await text.done();
    throw e;
  }
  // The final text replaces the streamed one: the same, unless the stream was cut or off.
  await text.done({ reasoning: result.reasoning, answer: result.answer });
  if (options.tinyCheckpoint) {
    await note(
      "untrained",
      `Tiny test checkpoint: capped at ${TINY_CHECKPOINT_CAPS.maxTokens} tokens` +
        `${
          sent.video !== undefined ? ` and ${TINY_CHECKPOINT_CAPS.videoFrames} video frames` : ""
        } (tinyCheckpoint: true).`,
    );
  } else if (options.miniCheckpoint) {
    await miniCheckpointNote(sent);
  }
  return markStreamed(result);
}

/**
 * What `tinyCheckpoint: true` makes of a Generator or action request, so that an untrained test
 * checkpoint answers in seconds on a CPU: the 256p tier, at most 2 denoising steps, a video of the
 * fewest frames that leave one latent frame to generate after the clean (conditioning) ones, and an
 * action chunk of at most 4 steps. A real checkpoint wants the request as written (the model's defaults).
 */
export const TINY_GENERATOR_CAPS: Readonly<{ resolution: "256p"; steps: number; actionSteps: number }> = Object
  .freeze({ resolution: "256p", steps: 2, actionSteps: 4 });

/**
 * The tiny untrained checkpoints (paths from the repository's root) that the Generator and action cookbooks run
 * natively when no backend is configured (`notebookBackend`'s `fallback`): `test/fixtures/cosmos3-tiny` for
 * `generate()`; for `rollout()` `test/fixtures/cosmos3-tiny-a64`, the same checkpoint with a 64-wide action head
 * (`action_dim` 64, as the real Cosmos 3), so that every embodiment fits, egocentric 57D included (cosmos3-tiny's
 * head is 16 wide, as the diffusers reference fixtures were made).
 * @example
 * ```ts
 * import { TINY_GENERATOR_CHECKPOINTS } from "./calls.ts";
 * TINY_GENERATOR_CHECKPOINTS.rollout; // "test/fixtures/cosmos3-tiny-a64"
 * ```
 */
export const TINY_GENERATOR_CHECKPOINTS: Readonly<{ generate: string; rollout: string }> = Object.freeze({
  generate: "test/fixtures/cosmos3-tiny",
  rollout: "test/fixtures/cosmos3-tiny-a64",
});

/**
 * The mini checkpoints (paths from the repository's root) trained by this project on the synthetic world of
 * `src/world` (issue 16), not Cosmos 3: `checkpoints/mini-reasoner`, a 5 M-parameter Qwen3-VL (10 MB bf16) that
 * captions, grounds, localises events and judges plausibility in that tabletop world, for `reason()`; and
 * `checkpoints/mini-generator`, a 3.5 M-parameter Cosmos3OmniTransformer with `action_gen` (action_dim 16: the
 * single-arm droid 10D rows zero-padded) and a small Wan2.2-style VAE, trained on that world's 320x192 clips
 * (17 frames at 10 fps, a 16-row chunk each), for `generate()` and the droid `rollout()` (other embodiments keep
 * {@link TINY_GENERATOR_CHECKPOINTS}`.rollout`). Their READMEs give the held-out figures.
 * @example
 * ```ts
 * import { MINI_CHECKPOINTS } from "./calls.ts";
 * MINI_CHECKPOINTS.reason; // "checkpoints/mini-reasoner"
 * MINI_CHECKPOINTS.rollout; // "checkpoints/mini-generator"
 * ```
 */
export const MINI_CHECKPOINTS: Readonly<{ reason: string; generate: string; rollout: string }> = Object.freeze({
  reason: "checkpoints/mini-reasoner",
  generate: "checkpoints/mini-generator",
  rollout: "checkpoints/mini-generator",
});

/**
 * The workflows the mini Reasoner was trained on, each with its figure on 200 (action CoT, describe-anything:
 * 50) held-out clips of its world through this engine (checkpoints/mini-reasoner/README.md). Any other
 * workflow still runs on it, but its answer is not meaningful.
 * @example
 * ```ts
 * import { MINI_REASONER_TASKS } from "./calls.ts";
 * MINI_REASONER_TASKS.grounding_2d; // "mean box IoU 0.923"
 * MINI_REASONER_TASKS.situation_understanding; // undefined: not trained
 * ```
 */
export const MINI_REASONER_TASKS: Readonly<Partial<Record<ReasonTask, string>>> = Object.freeze({
  caption: "the objects' colours and shapes all named right in 98.5% of captions",
  grounding_2d: "mean box IoU 0.923",
  temporal_localization: "event times off by 0.004 s on average",
  physical_plausibility:
    "96% of labels right (100 of 104 anomalies caught, 4 of 96 plausible clips called implausible)",
  action_cot: "the plan's words are learnt, the waypoints roughly (153 off on the 0–1000 grid; the mean path: 208)",
  describe_anything: "69% of marked subjects named right",
});

/**
 * What `miniCheckpoint: true` does to a `reason()` request: greedy decoding (temperature 0), as the mini
 * Reasoner's figures were measured, unless the request sets a temperature; at most this many tokens (its
 * longest trained answer is about 230), so that a workflow it was not trained on ends in seconds.
 */
export const MINI_REASONER_CAPS: Readonly<{ maxTokens: number }> = Object.freeze({ maxTokens: 256 });

/**
 * The request as `miniCheckpoint: true` sends it ({@link MINI_REASONER_CAPS}): temperature 0 unless the
 * request sets one, and the token limit lowered to the cap (through `maxTokens`, whichever name the request
 * used). A request whose `maxTokens` and `sampling.max_tokens` disagree is returned as is, so that validation
 * still reports it.
 * @example
 * ```ts
 * import { withMiniCheckpointCaps } from "./calls.ts";
 * withMiniCheckpointCaps({ task: "caption", video: "clip.mp4" });
 * // { task: "caption", video: "clip.mp4", sampling: { temperature: 0 }, maxTokens: 256 }
 * ```
 */
export function withMiniCheckpointCaps(request: ReasonRequestInput): ReasonRequestInput {
  const capped = withMaxTokensCap(request, MINI_REASONER_CAPS.maxTokens);
  if (capped === request) return request;
  return { ...capped, sampling: { temperature: 0, ...capped.sampling } };
}

/** The request the notebook {@link reason} sends with these options: capped for a tiny or the mini checkpoint. */
function reasonRequestSent(request: ReasonRequestInput, options: NotebookRunOptions): ReasonRequestInput {
  return capsOf(options, withTinyCheckpointCaps, withMiniCheckpointCaps)(request);
}

/** The caps a call's options ask for: the tiny checkpoint's, the mini checkpoint's, or none. */
function capsOf<R>(options: NotebookRunOptions, tiny: (r: R) => R, mini: (r: R) => R): (r: R) => R {
  return options.tinyCheckpoint ? tiny : options.miniCheckpoint ? mini : (r) => r;
}

/**
 * The sampling the notebook {@link reason} sends for a request with these options: the spec's preset for
 * its mode (with or without reasoning), the request's overrides, then the backend's caps (the mini
 * Reasoner: greedy unless the request sets a temperature, at most 256 tokens; a tiny test checkpoint: a few
 * tokens). What a notebook shows as "sampling sent", so it matches the call.
 * @throws {ValidationError} when the request is invalid.
 * @example
 * ```ts
 * import { reasonSamplingSent } from "./calls.ts";
 * reasonSamplingSent({ task: "caption", video: "clip.mp4" }, { miniCheckpoint: true });
 * // { top_p: 0.8, top_k: 20, repetition_penalty: 1, presence_penalty: 1.5, temperature: 0, max_tokens: 256 }
 * ```
 */
export function reasonSamplingSent(request: ReasonRequestInput, options: NotebookRunOptions = {}): SamplingParams {
  const sent = parseWith(ReasonRequest, reasonRequestSent(request, options), "request");
  return { ...reasonerSampling(sent.reasoning), max_tokens: sent.maxTokens, ...sent.sampling };
}

/**
 * What `miniCheckpoint: true` makes of a Generator or action request on the mini Generator
 * (`MINI_CHECKPOINTS.generate`): the size it was trained at (the 256p tier at 16:9 = 320x192; an action
 * request is sized from its observation, the world's 320x192 frames), 17 frames at 10 fps (9 when the request
 * asks for 9 or fewer: the VAE's other training length), at most `steps` denoising steps (30, as
 * bench/mini_generator_eval.ts measures the figures: a text-to-video call with guidance took 6.3 s on this 2-core
 * CPU at load 1 and about 25 s at load 36; checkpoints/mini-generator/README.md), guidance 4 for the video modes
 * and 1 for the action modes unless the request sets one (as the evaluation), and a chunk of at most 16 rows (its
 * training chunk).
 */
export const MINI_GENERATOR_CAPS: Readonly<{
  resolution: "256p";
  aspectRatio: "16:9";
  width: number;
  height: number;
  numFrames: number;
  shortNumFrames: number;
  fps: 10;
  steps: number;
  videoGuidance: number;
  actionGuidance: number;
  actionSteps: number;
}> = Object.freeze({
  resolution: "256p",
  aspectRatio: "16:9",
  width: 320,
  height: 192,
  numFrames: 17,
  shortNumFrames: 9,
  fps: 10,
  steps: 30,
  videoGuidance: 4,
  actionGuidance: 1,
  actionSteps: 16,
});

/** A workflow the mini Generator was trained on: a video mode of `generate()` or a droid action mode. */
export type MiniGeneratorWorkflow = "text-to-video" | "image-to-video" | ActionMode;

/**
 * The embodiments the mini Generator was trained on: the single-arm droid 10D layout only (its action head is
 * 16 wide; the other embodiments' rows would fit or not, but it never saw them).
 */
export const MINI_GENERATOR_EMBODIMENTS: readonly EmbodimentId[] = Object.freeze(["droid"] as EmbodimentId[]);

/**
 * The workflows the mini Generator was trained on, each with its figure on held-out clips of its world through
 * this engine (bench/mini_generator_eval.ts; checkpoints/mini-generator/README.md has the table). THE ONE PLACE the
 * figures are edited: the notebooks' notes and the backend cell read them from here. Anything else (text-to-image,
 * video-to-video, sound, prompt upsampling, other embodiments) still runs on it, but its output is not meaningful.
 * @example
 * ```ts
 * import { MINI_GENERATOR_WORKFLOWS } from "./calls.ts";
 * Object.keys(MINI_GENERATOR_WORKFLOWS); // ["text-to-video", "image-to-video", "forward_dynamics", "policy", "inverse_dynamics"]
 * ```
 */
export const MINI_GENERATOR_WORKFLOWS: Readonly<Record<MiniGeneratorWorkflow, string>> = Object.freeze({
  "text-to-video":
    "run as two passes (the checkpoint's recipe: up to five first frames drawn by text-to-video, the first in which the mini Reasoner finds the prompt's object kept, then image-to-video from it); a prompt that does not say where each object stands gets places written in first (the note shows the prompt that ran). The prompted object moves the prompted way in 82% of fresh held-out clips (164 of 200, prompts that say where each object stands; 87 of 100 more never used to choose the weights; short prompts with places written in: 23 of 30); objects still smear or take a neighbour's colour",
  "image-to-video":
    "with the true first frame given, the prompted object moves the prompted way in 95% of held-out clips (57 of the first 60 text-to-video prompts)",
  forward_dynamics:
    "the gripper's path off by 2.2% of the frame width on average (60 held-out clips; the first frame held still: 21%)",
  policy: "TCP position error 0.081 m, gripper error 0.004 (the mean chunk: 0.20 m, 0.25; 200 held-out clips)",
  inverse_dynamics:
    "TCP position error 0.021 m, gripper error 0.005 (the mean chunk: 0.20 m, 0.25; 200 held-out clips)",
});

/** The workflows {@link MINI_GENERATOR_WORKFLOWS} leaves out, as the notes name them. */
const MINI_GENERATOR_UNTRAINED =
  "text-to-image, video-to-video, sound, prompt upsampling, other embodiments than droid";

/** The frame count the mini Generator runs: its training length 17, or 9 for a request of 9 or fewer. */
function miniFrameCount(asked: number | undefined): number {
  const c = MINI_GENERATOR_CAPS;
  return asked !== undefined && asked <= c.shortNumFrames ? c.shortNumFrames : c.numFrames;
}

/**
 * The request with {@link MINI_GENERATOR_CAPS} applied: 320x192 (256p, 16:9), 17 (or 9) frames at 10 fps, at most
 * 30 steps, guidance 4 unless the request sets one. Prompt, seed, sound and the conditioning media are sent as
 * given.
 * @example
 * ```ts
 * import { withMiniGeneratorCaps } from "./calls.ts";
 * withMiniGeneratorCaps({ prompt: "A wooden table with a red cube, a grey robot arm above it.", seed: 0 });
 * // { prompt: "…", seed: 0, resolution: "256p", aspectRatio: "16:9", numInferenceSteps: 30, guidanceScale: 4, numFrames: 17, fps: 10 }
 * ```
 */
export function withMiniGeneratorCaps(request: GenerateRequestInput): GenerateRequestInput {
  const c = MINI_GENERATOR_CAPS;
  return {
    ...request,
    resolution: c.resolution,
    aspectRatio: c.aspectRatio,
    numInferenceSteps: Math.min(request.numInferenceSteps ?? c.steps, c.steps),
    guidanceScale: request.guidanceScale ?? c.videoGuidance,
    ...(request.output === "image" ? {} : { numFrames: miniFrameCount(request.numFrames), fps: c.fps }),
  };
}

/**
 * The action request with {@link MINI_GENERATOR_CAPS} applied: the 256p tier (the world's 320x192 observation
 * gives 320x192), 10 fps, at most 30 steps, guidance 1 unless the request sets one, a chunk of at most 16 rows
 * (given actions: their first 16); the frame count follows from the chunk (17).
 * @example
 * ```ts
 * import { withMiniRolloutCaps } from "./calls.ts";
 * withMiniRolloutCaps({ mode: "policy", embodiment: "droid", image: "start.png", prompt: "Push the red cube to the left." });
 * // { mode: "policy", …, resolution: "256p", numInferenceSteps: 30, fps: 10, guidanceScale: 1 }
 * ```
 */
export function withMiniRolloutCaps(request: RolloutRequestInput): RolloutRequestInput {
  const c = MINI_GENERATOR_CAPS;
  return {
    ...withRolloutCaps(request, { resolution: c.resolution, steps: c.steps, actionSteps: c.actionSteps }),
    fps: c.fps,
    guidanceScale: request.guidanceScale ?? c.actionGuidance,
  };
}

/**
 * The request the notebook {@link generate} sends with these options (capped for a tiny or the mini
 * checkpoint), validated: what a notebook shows as "request sent", with the settings the run uses in `effective`.
 * @throws {ValidationError} when the request is invalid.
 * @example
 * ```ts
 * import { generateRequestSent } from "./calls.ts";
 * generateRequestSent({ prompt: "The red cube slides to the left.", seed: 0 }, { miniCheckpoint: true }).effective.width; // 320
 * ```
 */
export function generateRequestSent(request: GenerateRequestInput, options: NotebookRunOptions = {}): GenerateRequest {
  return parseWith(GenerateRequest, generateRequestCapped(request, options), "request");
}

/**
 * The request the notebook {@link rollout} sends with these options (capped for a tiny or the mini
 * checkpoint), validated (see {@link generateRequestSent}).
 * @throws {ValidationError} when the request is invalid.
 * @example
 * ```ts
 * import { rolloutRequestSent } from "./calls.ts";
 * rolloutRequestSent({ mode: "policy", embodiment: "droid", image: "start.png", prompt: "Push the red cube to the left." }, { miniCheckpoint: true }).effective.numInferenceSteps; // 30
 * ```
 */
export function rolloutRequestSent(request: RolloutRequestInput, options: NotebookRunOptions = {}): RolloutRequest {
  return parseWith(RolloutRequest, rolloutRequestCapped(request, options), "request");
}

function generateRequestCapped(request: GenerateRequestInput, options: NotebookRunOptions): GenerateRequestInput {
  return capsOf(options, withTinyGeneratorCaps, withMiniGeneratorCaps)(request);
}

function rolloutRequestCapped(request: RolloutRequestInput, options: NotebookRunOptions): RolloutRequestInput {
  return capsOf(options, withTinyRolloutCaps, withMiniRolloutCaps)(request);
}

/** What the run settings of a mini Generator call were, for its note. */
function miniRunSettings(
  s: { numFrames?: number; fps?: number; numInferenceSteps?: number; guidanceScale?: number },
  chunk?: number,
  size: { width: number; height: number } = MINI_GENERATOR_CAPS,
): string {
  const frames = s.numFrames !== undefined ? `, ${s.numFrames} frames at ${s.fps} fps` : "";
  const rows = chunk !== undefined ? `, a ${chunk}-row chunk` : "";
  return `run at ${size.width}x${size.height}${frames}${rows}, ` +
    `${s.numInferenceSteps} denoising steps, guidance ${s.guidanceScale} (miniCheckpoint: true)`;
}

/**
 * The note under a result of the mini Generator: trained on this workflow (its figure from
 * {@link MINI_GENERATOR_WORKFLOWS}) or NOT trained on it, and the settings it ran with.
 */
function miniGeneratorNote(workflow: string, figure: string | undefined, settings: string): Promise<void> {
  return figure !== undefined
    ? note("info", `Mini Generator, trained on ${workflow} in its synthetic world: ${figure}; ${settings}.`)
    : note(
      "untrained",
      `The mini Generator was NOT trained on ${workflow}: this result is not meaningful (it knows only its ` +
        `tabletop world's ${Object.keys(MINI_GENERATOR_WORKFLOWS).join(", ")} for the single-arm droid); ${settings}.`,
    );
}

/** The figure of a Generator mode on the mini Generator, or undefined when it was not trained on it. */
function miniGenerateFigure(mode: GenerationMode): string | undefined {
  return mode in MINI_GENERATOR_WORKFLOWS ? MINI_GENERATOR_WORKFLOWS[mode as MiniGeneratorWorkflow] : undefined;
}

/** What the notebook says under a call on the mini Reasoner. */
function miniCheckpointNote(sent: ReasonRequestInput): Promise<void> {
  const task = sent.task ?? "custom";
  const figure = MINI_REASONER_TASKS[task];
  const decoding = `${
    sent.sampling?.temperature === 0 ? "greedy decoding (temperature 0)" : `temperature ${sent.sampling?.temperature}`
  }, at most ${sent.maxTokens} tokens (miniCheckpoint: true)`;
  return figure
    ? note(
      "info",
      `Mini Reasoner, trained on ${task} in its synthetic world: ${figure} on held-out clips; ${decoding}.`,
    )
    : note(
      "untrained",
      `The mini Reasoner was NOT trained on ${task}: this answer is not meaningful (it knows only its tabletop ` +
        `world's captions, boxes, events, plausibility, plans and descriptions); ${decoding}.`,
    );
}

/**
 * The request with {@link TINY_GENERATOR_CAPS} applied. The frame count is 1 + 4 · (last clean latent
 * frame + 1): 5 for text- and image-to-video, 9 for video-to-video keeping latent frames 0 and 1.
 * Sound, prompt, seed and the conditioning media are sent as given.
 * @example
 * ```ts
 * import { withTinyGeneratorCaps } from "./calls.ts";
 * withTinyGeneratorCaps({ prompt: "A ball rolls.", resolution: "480p", seed: 0 });
 * // { prompt: "A ball rolls.", resolution: "256p", seed: 0, numInferenceSteps: 2, numFrames: 5 }
 * ```
 */
export function withTinyGeneratorCaps(request: GenerateRequestInput): GenerateRequestInput {
  const lastClean = Math.max(0, ...(request.conditionFrameIndexes ?? []));
  return {
    ...request,
    resolution: TINY_GENERATOR_CAPS.resolution,
    numInferenceSteps: Math.min(request.numInferenceSteps ?? TINY_GENERATOR_CAPS.steps, TINY_GENERATOR_CAPS.steps),
    ...(request.output === "image" ? {} : { numFrames: 1 + 4 * (lastClean + 1) }),
  };
}

/**
 * The action request with {@link TINY_GENERATOR_CAPS} applied: the 256p tier, at most 2 steps, and a
 * chunk of at most 4 steps (given actions: their first rows); the frame count follows from the chunk.
 * @example
 * ```ts
 * import { withTinyRolloutCaps } from "./calls.ts";
 * withTinyRolloutCaps({ mode: "policy", embodiment: "droid", image: "scene.png", prompt: "Pick.", actionChunkSize: 16 });
 * // { mode: "policy", …, actionChunkSize: 4, resolution: "256p", numInferenceSteps: 2 }
 * ```
 */
export function withTinyRolloutCaps(request: RolloutRequestInput): RolloutRequestInput {
  return withRolloutCaps(request, TINY_GENERATOR_CAPS);
}

/**
 * An action request run at a checkpoint's caps: its tier, at most `steps` denoising steps and a chunk of at most
 * `actionSteps` rows (given actions: their first rows); the frame count is left to follow from the chunk.
 */
function withRolloutCaps(
  request: RolloutRequestInput,
  caps: { resolution: "256p"; steps: number; actionSteps: number },
): RolloutRequestInput {
  const { numFrames: _frames, ...rest } = request;
  const n = caps.actionSteps;
  return {
    ...rest,
    ...(request.actionChunkSize !== undefined ? { actionChunkSize: Math.min(request.actionChunkSize, n) } : {}),
    ...(Array.isArray(request.actions) ? { actions: request.actions.slice(0, n) } : {}),
    resolution: caps.resolution,
    numInferenceSteps: Math.min(request.numInferenceSteps ?? caps.steps, caps.steps),
  };
}

/** The note under a Generator / action result of a tiny checkpoint: what was run instead of the request. */
async function tinyGeneratorNote(
  sent: { resolution?: string; numInferenceSteps?: number },
  what: string,
): Promise<void> {
  await note(
    "untrained",
    `Tiny test checkpoint: run at ${sent.resolution}, ${what}${sent.numInferenceSteps} denoising steps ` +
      "(tinyCheckpoint: true); a real checkpoint runs the request as written.",
  );
}

/**
 * The library's `generate()` with a progress bar per stage (upload, denoise, download) in a notebook.
 * @example
 * ```ts
 * import { generate } from "./calls.ts";
 * import { show } from "./show.ts";
 * await show(generate({ prompt: "A robot arm stacks two cubes." }, { backend: "http://127.0.0.1:8000" }));
 * ```
 */
export async function generate(
  request: GenerateRequestInput,
  options: NotebookRunOptions = {},
): Promise<GenerateResult> {
  const sent = generateRequestCapped(request, options);
  if (!hasRichDisplay()) return await libraryGenerate(sent, libraryOptions(options));
  const result = await withProgress(
    options,
    (onProgress) => libraryGenerate(sent, { ...libraryOptions(options), onProgress }),
  );
  if (options.tinyCheckpoint) await tinyGeneratorNote(sent, sent.numFrames ? `${sent.numFrames} frames, ` : "");
  else if (options.miniCheckpoint) {
    const mode = generationMode(parseWith(GenerateRequest, sent, "request"));
    await miniGeneratorNote(mode, miniGenerateFigure(mode), miniRunSettings(sent));
  }
  return result;
}

/**
 * The library's `rollout()` with a progress bar per stage (upload, queue, denoise, download) in a notebook.
 * @example
 * ```ts
 * import { rollout } from "./calls.ts";
 * import { show } from "./show.ts";
 * await show(rollout({ mode: "policy", embodiment: "droid", image: "scene.png", prompt: "Pick up the cube." }), { fps: 10 });
 * ```
 */
export async function rollout(request: RolloutRequestInput, options: NotebookRunOptions = {}): Promise<RolloutResult> {
  const sent = rolloutRequestCapped(request, options);
  if (!hasRichDisplay()) return await libraryRollout(sent, libraryOptions(options));
  const result = await withProgress(
    options,
    (onProgress) => libraryRollout(sent, { ...libraryOptions(options), onProgress }),
  );
  if (options.tinyCheckpoint) {
    await tinyGeneratorNote(sent, `a chunk of ${result.actions?.length ?? TINY_GENERATOR_CAPS.actionSteps} steps, `);
  } else if (options.miniCheckpoint) {
    const trained = MINI_GENERATOR_EMBODIMENTS.includes(sent.embodiment);
    const workflow = trained ? sent.mode : `${sent.mode} for ${sent.embodiment}`;
    const chunk = (result.actions ?? result.actionSpaces?.normalized)?.length; // predicted, or given (forward dynamics)
    const settings = miniRunSettings(
      { ...sent, numFrames: chunk !== undefined ? chunk + 1 : undefined },
      chunk,
      result.video ?? MINI_GENERATOR_CAPS,
    );
    await miniGeneratorNote(workflow, trained ? MINI_GENERATOR_WORKFLOWS[sent.mode] : undefined, settings);
  }
  return result;
}

/** Options of {@link notebookBackend}. */
export interface NotebookBackendOptions {
  /** The backend when the environment names none: a checkpoint folder, HF repo id or URL. */
  fallback: string;
  /**
   * The fallback is a tiny test checkpoint with random weights (such as `test/fixtures/qwen3vl-tiny`):
   * when it is used, the notebook says so and the calls get `tinyCheckpoint: true`.
   */
  fallbackIsTinyCheckpoint?: boolean;
  /**
   * The fallback is a mini checkpoint (`MINI_CHECKPOINTS`: the mini Reasoner for `reason`, the mini Generator for
   * `generate` / `rollout`; trained by this project on a synthetic world, not Cosmos 3): when it is used, the
   * notebook says what it is and knows, and the calls get `miniCheckpoint: true`.
   */
  fallbackIsMiniCheckpoint?: boolean;
}

/**
 * What the mini Generator's weights are, as the notebooks name it (the backend note, the backend cells, the
 * quickstart): edit here when a training session changes its size (checkpoints/mini-generator/README.md has the
 * config table).
 */
export const MINI_GENERATOR_MODEL =
  "a 3.5 M-parameter Cosmos3OmniTransformer with the action head and a small Wan2.2-style VAE";

/** What the backend cell says when the mini Generator runs (no backend configured). */
function miniGeneratorBackendNote(checkpoint: string, variable: string): string {
  const c = MINI_GENERATOR_CAPS;
  return `${checkpoint} is a mini model trained by this project on a synthetic world, not Cosmos 3: ` +
    `${MINI_GENERATOR_MODEL} that know only the procedural tabletop of src/world (a wooden table, cubes, balls and cylinders in six colours, a grey robot arm), seen at ${c.width}x` +
    `${c.height}, ${c.numFrames} frames at ${c.fps} fps, with the single-arm droid 10D action chunk (16 rows), and ` +
    `only the workflows it was trained on: ${Object.keys(MINI_GENERATOR_WORKFLOWS).join(", ")}. Not trained: ` +
    `${MINI_GENERATOR_UNTRAINED}. Its calls run at its training size, ${c.numFrames} frames, ${c.steps} denoising ` +
    `steps, guidance ${c.videoGuidance} (action modes ${c.actionGuidance}), as its held-out figures were measured ` +
    `(checkpoints/mini-generator/README.md). For Cosmos 3 set ${variable} to a diffusers-layout Cosmos 3 ` +
    "checkpoint folder or to a vLLM-Omni URL such as http://127.0.0.1:8000.";
}

/** What the backend cell says when the mini Reasoner runs (no backend configured). */
function miniReasonerNote(checkpoint: string, variable: string): string {
  const trained = Object.keys(MINI_REASONER_TASKS).join(", ");
  return `${checkpoint} is a mini model trained by this project on a synthetic world, not Cosmos 3: a 5 M-parameter ` +
    "Qwen3-VL that knows only the procedural tabletop of src/world, seen at 320x192 — objects in six colours (" +
    `${ObjectColor.options.join(", ")}) and three shapes (${ObjectShape.options.join(", ")}), a grey robot arm ` +
    "with a dark gripper, and events (picked up, carried, put down, pushed, fell; in implausible clips objects " +
    `that jump, float or pass through the gripper) — and only the workflows it was trained on: ${trained}. ` +
    "Anything else (a real photo, a road, another workflow) gets an answer in the style of that world, not a " +
    `meaningful one. Its calls decode greedily, as its held-out figures were measured ` +
    `(checkpoints/mini-reasoner/README.md). For Cosmos 3 set ${variable} to a Cosmos 3 Reasoner checkpoint ` +
    "folder or to a vLLM / NIM URL such as http://127.0.0.1:8000/v1.";
}

const SERVER_KIND = {
  reason: "vLLM / NIM server (OpenAI chat completions)",
  generate: "vLLM-Omni server",
  rollout: "vLLM-Omni server",
};

/**
 * Picks the backend of a notebook's calls from the environment — `COSMOS_REASONER_BACKEND` (for
 * `reason`) or `COSMOS_GENERATOR_BACKEND` (for `generate` / `rollout`), then `COSMOS_BACKEND`, then
 * `o.fallback` — says in the notebook which one runs and what it is (a tiny test checkpoint answers
 * gibberish, or noise; the mini Reasoner and the mini Generator are mini models trained by this project on a
 * synthetic world, not Cosmos 3), and returns the options to pass to the calls.
 * @example
 * ```ts
 * import { notebookBackend, reason } from "./calls.ts";
 * import { show } from "./show.ts";
 * const options = await notebookBackend("reason", { fallback: "checkpoints/mini-reasoner", fallbackIsMiniCheckpoint: true });
 * await show(reason({ task: "grounding_2d", image: "assets/images/world_tabletop_small.png", prompt: 'Locate the red cube. Answer as JSON: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}].' }, options));
 * ```
 */
export async function notebookBackend(
  call: "reason" | "generate" | "rollout",
  o: NotebookBackendOptions,
): Promise<NotebookRunOptions> {
  const names = call === "reason"
    ? ["COSMOS_REASONER_BACKEND", "COSMOS_BACKEND"]
    : ["COSMOS_GENERATOR_BACKEND", "COSMOS_BACKEND"];
  const configured = names.map((n) => process.env[n]?.trim()).find((v) => v);
  const backend = resolveBackend(configured || o.fallback, call === "reason" ? "reasoner" : "generator");
  const where = backend.kind === "remote" ? SERVER_KIND[call] : "embedded native engine (in-process)";
  await note(
    "info",
    `backend: ${describeBackend(backend)} · ${where}${
      configured ? "" : ` · default: ${names.join(" and ")} are unset`
    }`,
  );
  const tinyCheckpoint = !configured && o.fallbackIsTinyCheckpoint === true && backend.kind === "native";
  const miniCheckpoint = !configured && o.fallbackIsMiniCheckpoint === true && backend.kind === "native";
  if (miniCheckpoint && backend.kind === "native") {
    await note(
      "info",
      call === "reason"
        ? miniReasonerNote(backend.checkpoint, names[0])
        : miniGeneratorBackendNote(backend.checkpoint, names[0]),
    );
  }
  if (tinyCheckpoint && backend.kind === "native") {
    await note(
      "untrained",
      call === "reason"
        ? `${backend.checkpoint} is a tiny checkpoint with RANDOM, UNTRAINED weights, made for the tests. It runs the whole ` +
          "native path (tokenizer, chat template, vision tower, decoding) but its text is gibberish, so parsed outputs (boxes, " +
          `events, labels) will usually be missing; each call is capped at ${TINY_CHECKPOINT_CAPS.maxTokens} tokens. For real ` +
          `answers set ${
            names[0]
          } to a Cosmos 3 checkpoint folder or to a vLLM / NIM URL such as http://127.0.0.1:8000/v1.`
        : `${backend.checkpoint} is a tiny Cosmos 3 Generator with RANDOM, UNTRAINED weights, made for the tests. It runs ` +
          "the whole native path (text encoder, transformer, flow sampler, VAE decode, sound decoder, action heads) " +
          `but its images, videos, sound and actions are noise; each call runs at ${TINY_GENERATOR_CAPS.resolution} with a few frames and ` +
          `${TINY_GENERATOR_CAPS.steps} steps. For real results set ${names[0]} to a diffusers-layout Cosmos 3 ` +
          "checkpoint folder or to a vLLM-Omni URL such as http://127.0.0.1:8000.",
    );
  }
  return miniCheckpoint ? { backend, miniCheckpoint } : { backend, tinyCheckpoint };
}
