/**
 * What `reason()`, `generate()` and `rollout()` return, and the progress and token
 * events they report while they work. Both backends (native and remote) return these.
 *
 * @example
 * ```ts
 * import type { ReasonResult } from "./results.ts";
 * function show(r: ReasonResult) {
 *   if (r.parsed.kind === "boxes") console.log(r.parsed.boxes.length, "boxes");
 * }
 * ```
 * @module
 */
import { z } from "zod";
import type { NormalizationMethod } from "./action_normalization.ts";
import type { ActionChunk, ActionMode, EmbodimentId } from "./embodiments.ts";
import type { EffectiveGenerate, GenerationMode } from "./generate_request.ts";
import type { ReasonTask } from "./reason_request.ts";

/** A box with its label; coordinates in the model's convention (Qwen3-VL: 0–1000 grid). */
export const LabeledBox = z.object({
  label: z.string(),
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  /** Kept but suspect, e.g. "partly outside the image (0–1000 grid)"; renderers draw it dashed. */
  problem: z.string().optional(),
});
export type LabeledBox = z.infer<typeof LabeledBox>;

/** A temporal event in seconds. */
export const TimedEvent = z.object({ start: z.number(), end: z.number(), label: z.string() });
export type TimedEvent = z.infer<typeof TimedEvent>;

/**
 * An item of the model's output left out of the parsed result (an event that ends before it
 * starts, an empty box, a NaN point…): the item as the model wrote it (compact, cut at 160
 * characters) and why. The valid items are kept; renderers list these under the output.
 */
export const InvalidItem = z.object({ item: z.string(), problem: z.string() });
export type InvalidItem = z.infer<typeof InvalidItem>;

/**
 * The Reasoner's answer parsed by workflow; `unparsed` keeps why parsing failed. `invalid`
 * (only when non-empty) lists the items left out because they were unusable.
 */
export const ParsedOutput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("text"), text: z.string() }),
  z.object({ kind: z.literal("events"), events: z.array(TimedEvent), invalid: z.array(InvalidItem).optional() }),
  z.object({ kind: z.literal("boxes"), boxes: z.array(LabeledBox), invalid: z.array(InvalidItem).optional() }),
  z.object({
    kind: z.literal("subjects"),
    subjects: z.array(z.object({ index: z.number().int(), label: z.string().optional(), description: z.string() })),
  }),
  z.object({
    kind: z.literal("trajectory"),
    points: z.array(z.tuple([z.number(), z.number()])),
    invalid: z.array(InvalidItem).optional(),
  }),
  z.object({ kind: z.literal("label"), label: z.string() }),
  z.object({ kind: z.literal("unparsed"), error: z.string() }),
]);
export type ParsedOutput = z.infer<typeof ParsedOutput>;

/** Token counts as OpenAI-compatible servers report them. */
export const Usage = z.object({
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
});
export type Usage = z.infer<typeof Usage>;

/** The result of `reason()`. `text` is always the raw model output. */
export interface ReasonResult {
  task: ReasonTask;
  text: string;
  /** The `<think>` part, when the model reasoned explicitly. */
  reasoning?: string;
  /** The final answer (the text after `</think>`, or all of it). */
  answer: string;
  parsed: ParsedOutput;
  usage?: Usage;
  finishReason?: string;
  /**
   * Set when the client stopped reading a stream because the server went on past
   * `maxTokens` (a misbehaving server); `finishReason` is then `"length"`.
   */
  truncatedByClient?: { maxTokens: number };
  /** e.g. `"remote:http://host:8000/v1 (nvidia/cosmos3-nano-reasoner)"` or `"native:cuda (/ckpt)"`. */
  backend: string;
}

/** A media file written by a generation. */
export interface MediaFile {
  path: string;
  mimeType: "image/png" | "image/jpeg" | "video/mp4";
  width: number;
  height: number;
  numFrames?: number;
  fps?: number;
  hasSound: boolean;
}

/** What the first-frame check of a two-pass text-to-video did ({@link GenerateResult.firstFrameCheck}). */
export interface FirstFrameCheckResult {
  /** First frames drawn (1 … the checkpoint's `candidates`). */
  candidates: number;
  /** The one kept, 0-based; its pass-1 seed is `seed` (the request's seed + chosen). */
  chosen: number;
  seed: number;
  /**
   * Whether the kept frame passed (false: none did; the first candidate with each object drawn once, in another
   * place than the prompt's, was kept, else candidate 0).
   */
  accepted: boolean;
  /** Whether the kept frame has each of the prompt's objects located once, wherever it stands. */
  found: boolean;
  /** The prompt's objects the kept frame draws in another column than the prompt says, e.g. ["orange ball"]. */
  misplaced: string[];
  /** The objects the prompt's events name, e.g. ["orange ball"]. */
  subjects: string[];
  /** The labels the Reasoner located in the kept frame. */
  located: string[];
  /** With the check's `count_colors`: per subject colour, the labels located for "every <colour> object". */
  byColor?: { color: string; located: string[] }[];
}

/** The result of `generate()`. */
export interface GenerateResult {
  mode: GenerationMode;
  media: MediaFile;
  seed?: number;
  backend: string;
  /**
   * Set when the native checkpoint says its weights are untrained (`cosmos-ts.json` with
   * `{ "untrained": true }` in its folder, as the tiny test fixture has): the media are noise by design.
   */
  untrained?: boolean;
  /**
   * Set when text-to-video ran as the native checkpoint's two-pass recipe (`cosmos-ts.json` `"text_to_video"`, the
   * mini Generator): a first frame, from a text-to-video pass ("first_frame_anchored") or a text-to-image pass at the
   * video's size ("image_anchored"), conditioned an image-to-video pass of the same prompt, settings and seed;
   * `media` is the second pass's video.
   */
  textToVideoRecipe?: "first_frame_anchored" | "image_anchored";
  /**
   * Set when the recipe's first frame went through the checkpoint's first-frame check (`cosmos-ts.json`
   * `first_frame_check`, src/api/first_frame_check.ts): a Reasoner grounded every object of each candidate first
   * frame; the first candidate in which each object the prompt's events name is located exactly once was kept (or
   * candidate 0 when none was), and pass 2 ran from it with its seed.
   */
  firstFrameCheck?: FirstFrameCheckResult;
  /**
   * Set when the native checkpoint reads prompts with places (`cosmos-ts.json` `"prompt_places": true`, the mini
   * Generator) and the request's prompt named its objects without them: the prompt that ran, with a place written
   * for each object (src/world `promptWithPlaces`), e.g. "A wooden table with a red cube in the middle near the
   * camera and a green ball on the left towards the back, a grey robot arm above it. The red cube slides to the left."
   * for "The red cube slides to the left."
   */
  upsampledPrompt?: string;
  /**
   * The settings the run used (native runs): the request's `effective`, or on a distilled few-step checkpoint its
   * fixed step count, guidance 1 and shift, with what the request set that did not apply in `ignored`
   * (src/generator/distilled.ts).
   */
  effective?: EffectiveGenerate & { ignored?: { field: string; value: unknown; reason: string }[] };
}

/**
 * A rollout's action chunk in both spaces: the model's normalised one and, when the request gave
 * statistics (`normalization`), raw units.
 */
export interface RolloutActions {
  /** `predicted` (policy, inverse dynamics) or `given` (forward dynamics: the chunk the video follows). */
  role: "predicted" | "given";
  /** In the model's normalised space (what it reads or wrote). */
  normalized: ActionChunk;
  /** In the embodiment's raw units: denormalised, or as given; only with statistics. */
  raw?: ActionChunk;
  /** Which of the two `show()` charts: `raw` whenever it is there. */
  charted: "raw" | "normalized";
  /** How the two relate, when statistics were given: the method and where the statistics came from. */
  normalization?: { method: NormalizationMethod; stats: string };
}

/** The result of `rollout()`. */
export interface RolloutResult {
  mode: ActionMode;
  embodiment: EmbodimentId;
  video?: MediaFile;
  /** Predicted action chunk (policy, inverse dynamics), in the model's normalised space. */
  actions?: ActionChunk;
  /** The chunk in both spaces and which one the chart shows (every mode with actions in or out). */
  actionSpaces?: RolloutActions;
  backend: string;
  /** Set when the native checkpoint says its weights are untrained (see {@link GenerateResult.untrained}). */
  untrained?: boolean;
}

/** Progress of long work (loading, denoising steps, decoding frames, polling a job). */
export interface ProgressEvent {
  stage: "load" | "preprocess" | "prefill" | "decode" | "denoise" | "encode" | "upload" | "queue" | "download";
  /** Steps done and total, when known. */
  done?: number;
  total?: number;
  message?: string;
}

/**
 * The last `decode` event of a Reasoner call: what actually came out, not the token limit. `done` and
 * `total` are both the tokens produced (a bar that stopped early at its end token finishes at 40/40,
 * not at the limit), and the message says why decoding ended and names the limit. Without a token
 * count (a server that sent no usage) the event has a message only.
 * @example
 * ```ts
 * import { decodeEndProgress } from "./results.ts";
 * decodeEndProgress(40, 256, "stop");
 * // { stage: "decode", done: 40, total: 40, message: "stopped at end of answer (limit 256)" }
 * ```
 */
export function decodeEndProgress(
  tokens: number | undefined,
  limit: number | undefined,
  finishReason: string | undefined,
): ProgressEvent {
  const limitNote = limit === undefined ? "" : ` (limit ${limit})`;
  const why = finishReason === "stop"
    ? `stopped at end of answer${limitNote}`
    : finishReason === "length"
    ? `reached the token limit${limit === undefined ? "" : ` of ${limit}`}`
    : `ended (${finishReason ?? "no finish reason"})${limitNote}`;
  return tokens === undefined
    ? { stage: "decode", message: why }
    : { stage: "decode", done: tokens, total: tokens, message: why };
}

/** A streamed piece of Reasoner output. */
export interface TokenEvent {
  text: string;
  /** `reasoning` inside `<think>…</think>`, `answer` after it. */
  channel: "reasoning" | "answer";
}

/** Options every call takes besides its request. */
export interface RunOptions {
  /** Native checkpoint (folder or HF repo id) or server URL; defaults from the environment. */
  backend?: string | BackendSpec;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  onToken?: (event: TokenEvent) => void;
  /**
   * Remote calls and http(s) media downloads: ms to open a connection (default 30 s). Every
   * bound below has a default, and an expired one throws a `TimeoutError` naming it.
   */
  connectTimeoutMs?: number;
  /** Remote calls: ms from the open connection to the response headers, per request (default 10 min; a synchronous video 11 min, past the server's own 600 s). */
  timeoutMs?: number;
  /** Remote calls and downloads: longest gap between two stream events or body chunks (default 2 min). */
  idleTimeoutMs?: number;
  /** Remote calls and downloads: ms for a whole response body (default 30 min). */
  downloadTimeoutMs?: number;
  /** rollout() on a server: give up on an asynchronous job after this many ms (default 2 h). */
  jobTimeoutMs?: number;
  /** rollout() on a server: ms between two status polls of a job (default 2 s). */
  pollIntervalMs?: number;
  /** Remote calls: how many times a 429 / 503 answer is retried, 0-10 (default 4). */
  retries?: number;
  /** Remote calls: the first backoff delay in ms, doubled per retry (default 1000; a server's Retry-After wins). */
  retryBaseMs?: number;
  /**
   * generate() videos and forward dynamics on vLLM-Omni: run as an asynchronous job
   * (`POST /v1/videos`, polled) instead of the blocking `POST /v1/videos/sync`, which the
   * server gives up on after 600 s (`VLLM_OMNI_VIDEO_SYNC_TIMEOUT`). Default false.
   */
  videoJob?: boolean;
}

/** An explicit backend choice. */
export type BackendSpec =
  | {
    kind: "native";
    checkpoint: string;
    device?: "cpu" | "cuda" | "auto";
    /**
     * Generator only (generate(), rollout()): "fp8" loads the transformer's gen-stream linears in e4m3 with
     * per-channel weight and per-token activation scales, as vLLM-Omni's `--quantization fp8` (default "none").
     * CUDA needs an sm_90 (Hopper) GPU; the CPU backend runs an f32 twin of it, slower than f32, for checking
     * what fp8 changes. The environment variable `COSMOS_FP8_ATTENTION=1` also runs the gen stream's attention in
     * 8 bits (q and k int8, v and the probabilities e4m3: ~12% faster a step, a little further from the
     * unquantized model). bench/fp8_notes.md has the fidelity measured against the unquantized model.
     */
    quantization?: "none" | "fp8";
  }
  | { kind: "remote"; url: string; model?: string; apiKey?: string; allowedLocalMediaPath?: string };
