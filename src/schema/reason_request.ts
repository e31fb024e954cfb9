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
  /** Overrides on top of the preset. */
  sampling: SamplingParams.partial().optional(),
  maxTokens: z.number().int().min(1).max(131072).default(4096),
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
  if (info.media === "image" && !r.image) need("image", `the ${r.task} workflow takes an image`, "a JPG/PNG/WEBP image");
  if (info.media === "image_or_video" && !r.image && !r.video) {
    need("image", `the ${r.task} workflow takes an image or a video`, "an image or an MP4 video");
  }
  if (info.media === "video" && r.image) need("image", `the ${r.task} workflow takes a video, not an image`, "video only");
  if (info.media === "image" && r.video) need("video", `the ${r.task} workflow takes an image, not a video`, "image only");
  if (r.task === "describe_anything" && !r.subjects) {
    need("subjects", "describe_anything needs the marked subjects", "1 to 16 boxes [x1, y1, x2, y2] on the 0–1000 grid");
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
  if (r.imageSize && r.imageSize.shortestEdge > r.imageSize.longestEdge) {
    ctx.addIssue({
      code: "custom",
      path: ["imageSize"],
      message: "shortestEdge is larger than longestEdge",
      params: { allowed: "shortestEdge <= longestEdge" },
    });
  }
});
export type ReasonRequestInput = z.input<typeof ReasonRequest>;
export type ReasonRequest = z.output<typeof ReasonRequest>;

/** The prompt a request sends: its own, or the workflow's default. */
export function promptOf(r: ReasonRequest): string {
  return r.prompt ?? (REASON_TASKS[r.task] as TaskInfo).defaultPrompt ?? "";
}
