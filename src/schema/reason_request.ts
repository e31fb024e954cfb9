/**
 * The request of `reason()`: the nine Reasoner workflows of the seed (plus `custom`),
 * the media each one takes, sampling presets and media sampling options.
 *
 * @example
 * ```ts
 * import { ReasonRequest } from "./reason_request.ts";
 * const req = ReasonRequest.parse({ task: "caption", video: "assets/clip.mp4" });
 * req.reasoning; // false
 * ```
 * @module
 */
import { z } from "zod";
import { ImageInput, VideoInput } from "./media_input.ts";
import { DEFAULT_SYSTEM_PROMPT } from "./messages.ts";
import { SamplingParams } from "./sampling.ts";

/** The most tokens a Reasoner call generates when neither `maxTokens` nor `sampling.max_tokens` is given. */
export const DEFAULT_MAX_TOKENS = 4096;

/** What media a workflow takes. */
export type TaskMedia = "video" | "image" | "image_or_video" | "any";

/** One Reasoner workflow (seed, Reasoner table). */
export interface TaskInfo {
  media: TaskMedia;
  /** Output the parser expects. */
  output: "text" | "events" | "boxes" | "subjects" | "trajectory" | "label";
  /** Used when the request has no prompt; `undefined` means a prompt is required. */
  defaultPrompt?: string;
}

export const REASON_TASKS = {
  caption: { media: "video", output: "text", defaultPrompt: "Describe this video in detail." },
  temporal_localization: {
    media: "video",
    output: "events",
    defaultPrompt:
      'List the notable events with approximate timestamps as JSON: [{"start": seconds, "end": seconds, "event": "..."}].',
  },
  embodied_reasoning: { media: "video", output: "text" },
  common_sense: { media: "video", output: "text" },
  grounding_2d: { media: "image", output: "boxes" },
  describe_anything: { media: "image", output: "subjects" },
  action_cot: { media: "image_or_video", output: "trajectory" },
  physical_plausibility: {
    media: "video",
    output: "label",
    defaultPrompt: "Is the motion in this video physically plausible? Answer with one label: plausible or implausible.",
  },
  situation_understanding: { media: "video", output: "text" },
  custom: { media: "any", output: "text" },
} as const satisfies Record<string, TaskInfo>;

export type ReasonTask = keyof typeof REASON_TASKS;
export const ReasonTask = z.enum(Object.keys(REASON_TASKS) as [ReasonTask, ...ReasonTask[]]);

/** A box [x1, y1, x2, y2] on Qwen3-VL's 0–1000 normalised grid. */
export const Box1000 = z.tuple([z.number(), z.number(), z.number(), z.number()]).refine(
  ([x1, y1, x2, y2]) => [x1, y1, x2, y2].every((v) => v >= 0 && v <= 1000) && x1 < x2 && y1 < y2,
  { message: "box must be [x1, y1, x2, y2] with 0 <= x1 < x2 <= 1000 and 0 <= y1 < y2 <= 1000" },
);

/** A marked subject for describe-anything. */
export const MarkedSubject = z.object({ box: Box1000, label: z.string().min(1).optional() }).strict();
export type MarkedSubject = z.infer<typeof MarkedSubject>;

const RequestShape = z.object({
  task: ReasonTask.default("custom"),
  prompt: z.string().min(1).optional(),
  system: z.string().default(DEFAULT_SYSTEM_PROMPT),
  image: ImageInput.optional(),
  video: VideoInput.optional(),
  /** describe-anything: regions marked on the image. */
  subjects: z.array(MarkedSubject).min(1).max(16).optional(),
  /** Explicit reasoning: appends the seed's format instruction and uses its sampling preset. */
  reasoning: z.boolean().default(false),
  /** Overrides on top of the preset. `sampling.max_tokens` is the same knob as `maxTokens`. */
  sampling: SamplingParams.partial().optional(),
  /**
   * The most tokens to generate (default {@link DEFAULT_MAX_TOKENS}). One knob with
   * `sampling.max_tokens` (the name a preset such as `PROMPT_UPSAMPLING_SAMPLING` carries): give
   * either, or both with the same value; two different values are a `ValidationError`.
   */
  maxTokens: z.number().int().min(1).max(131072).optional(),
  /** Video frame sampling (`media_io_kwargs.video`): fps or a frame count, not both. */
  videoSampling: z.object({
    fps: z.number().gt(0).max(60).optional(),
    numFrames: z.number().int().min(2).max(768).optional(),
  }).strict().optional(),
  /** Image resize bounds in pixels (`mm_processor_kwargs.size`). */
  imageSize: z.object({
    shortestEdge: z.number().int().min(1),
    longestEdge: z.number().int().min(1),
  }).strict().optional(),
  /** Stop strings. */
  stop: z.array(z.string().min(1)).max(8).optional(),
  /** Stream tokens as they arrive (renderers update in place). */
  stream: z.boolean().default(true),
}).strict();

/** `reason()` request, with the rules that tie workflows to their media. */
export const ReasonRequest = RequestShape.superRefine((r, ctx) => {
  const info: TaskInfo = REASON_TASKS[r.task];
  const need = (field: "image" | "video" | "prompt" | "subjects", message: string, allowed: string) =>
    ctx.addIssue({ code: "custom", path: [field], message, params: { allowed } });
  if (!r.prompt && info.defaultPrompt === undefined) {
    need("prompt", `the ${r.task} workflow needs a prompt (a question or instruction)`, "a non-empty string");
  }
  if (info.media === "video" && !r.video) need("video", `the ${r.task} workflow takes a video`, "an MP4 video");
  if (info.media === "image" && !r.image) {
    need("image", `the ${r.task} workflow takes an image`, "a JPG/PNG/WEBP image");
  }
  if (info.media === "image_or_video" && !r.image && !r.video) {
    need("image", `the ${r.task} workflow takes an image or a video`, "an image or an MP4 video");
  }
  if (info.media === "video" && r.image) {
    need("image", `the ${r.task} workflow takes a video, not an image`, "video only");
  }
  if (info.media === "image" && r.video) {
    need("video", `the ${r.task} workflow takes an image, not a video`, "image only");
  }
  if (r.task === "describe_anything" && !r.subjects) {
    need(
      "subjects",
      "describe_anything needs the marked subjects",
      "1 to 16 boxes [x1, y1, x2, y2] on the 0–1000 grid",
    );
  }
  if (r.task !== "describe_anything" && r.subjects) {
    need("subjects", "only describe_anything takes marked subjects", "no subjects");
  }
  if (r.videoSampling?.fps !== undefined && r.videoSampling.numFrames !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["videoSampling"],
      message: "give fps or numFrames, not both",
      params: { allowed: "{ fps } or { numFrames }" },
    });
  }
  const presetMax = r.sampling?.max_tokens;
  if (r.maxTokens !== undefined && presetMax !== undefined && r.maxTokens !== presetMax) {
    ctx.addIssue({
      code: "custom",
      path: ["maxTokens"],
      message: `maxTokens (${r.maxTokens}) and sampling.max_tokens (${presetMax}) disagree; they are the same limit`,
      params: { allowed: "maxTokens or sampling.max_tokens, or both with the same value" },
    });
  }
  if (r.imageSize && r.imageSize.shortestEdge > r.imageSize.longestEdge) {
    ctx.addIssue({
      code: "custom",
      path: ["imageSize"],
      message: "shortestEdge is larger than longestEdge",
      params: { allowed: "shortestEdge <= longestEdge" },
    });
  }
}).transform((r) => {
  // One limit after validation: `maxTokens`, whichever of the two names gave it.
  const { max_tokens: presetMax, ...sampling } = r.sampling ?? {};
  const { sampling: _given, ...rest } = r;
  return {
    ...rest,
    maxTokens: r.maxTokens ?? presetMax ?? DEFAULT_MAX_TOKENS,
    ...(r.sampling ? { sampling: sampling as Partial<Omit<SamplingParams, "max_tokens">> } : {}),
  };
});
export type ReasonRequestInput = z.input<typeof ReasonRequest>;
export type ReasonRequest = z.output<typeof ReasonRequest>;

/** The prompt a request sends: its own, or the workflow's default. */
export function promptOf(r: ReasonRequest): string {
  return r.prompt ?? (REASON_TASKS[r.task] as TaskInfo).defaultPrompt ?? "";
}

/**
 * What a tiny or untrained test checkpoint (such as `test/fixtures/qwen3vl-tiny`) gets per call:
 * random weights never emit an end token, so without a cap they decode up to `maxTokens` (minutes
 * on a CPU, for more gibberish); a video is sampled at a few frames. A real checkpoint never needs
 * these: they are opted into with {@link withTinyCheckpointCaps} (the notebook calls' option
 * `tinyCheckpoint: true`, see kernel/calls.ts).
 */
export const TINY_CHECKPOINT_CAPS: Readonly<{ maxTokens: number; videoFrames: number }> = Object.freeze({
  maxTokens: 48,
  videoFrames: 4,
});

/**
 * The request with {@link TINY_CHECKPOINT_CAPS} applied: the token limit lowered to the cap
 * (through `maxTokens`, whichever name the request used), and a video sampled at the cap's frame
 * count. Everything else is sent as given. A request whose `maxTokens` and `sampling.max_tokens`
 * disagree is returned as is, so that validation still reports it.
 * @example
 * ```ts
 * import { withTinyCheckpointCaps } from "./reason_request.ts";
 * withTinyCheckpointCaps({ task: "custom", prompt: "Hi", sampling: { max_tokens: 20000, seed: 1 } });
 * // { task: "custom", prompt: "Hi", sampling: { seed: 1 }, maxTokens: 48 }
 * ```
 */
export function withTinyCheckpointCaps(request: ReasonRequestInput): ReasonRequestInput {
  const capped = withMaxTokensCap(request, TINY_CHECKPOINT_CAPS.maxTokens);
  if (capped === request) return request;
  return {
    ...capped,
    ...(request.video !== undefined ? { videoSampling: { numFrames: TINY_CHECKPOINT_CAPS.videoFrames } } : {}),
  };
}

/**
 * The request with its token limit lowered to `cap` (never raised), set through `maxTokens` whichever
 * name the request used (`sampling.max_tokens` is dropped). A request whose `maxTokens` and
 * `sampling.max_tokens` disagree is returned as is (the same object), so that validation still reports it.
 * @example
 * ```ts
 * import { withMaxTokensCap } from "./reason_request.ts";
 * withMaxTokensCap({ task: "caption", sampling: { max_tokens: 999, seed: 3 } }, 64);
 * // { task: "caption", sampling: { seed: 3 }, maxTokens: 64 }
 * ```
 */
export function withMaxTokensCap(request: ReasonRequestInput, cap: number): ReasonRequestInput {
  const given = request.maxTokens ?? request.sampling?.max_tokens;
  if (
    request.maxTokens !== undefined && request.sampling?.max_tokens !== undefined &&
    request.maxTokens !== request.sampling.max_tokens
  ) {
    return request;
  }
  const { max_tokens: _limit, ...sampling } = request.sampling ?? {};
  return {
    ...request,
    ...(request.sampling ? { sampling } : {}),
    maxTokens: Math.min(given ?? DEFAULT_MAX_TOKENS, cap),
  };
}
