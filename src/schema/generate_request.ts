/**
 * The request of `generate()`: text-to-image, text-to-video (± sound),
 * image-to-video (± sound) and video-to-video (± sound), with the seed's settings and
 * the diffusion parameters of its Diffusers / vLLM-Omni examples as defaults.
 *
 * @example
 * ```ts
 * import { GenerateRequest, generationMode } from "./generate_request.ts";
 * const req = GenerateRequest.parse({ prompt: "A robot arm stacks two red cubes." });
 * generationMode(req); // "text-to-video"
 * req.numFrames; // 189
 * ```
 * @module
 */
import { z } from "zod";
import { ImageInput, VideoInput } from "./media_input.ts";
import {
  AspectRatio,
  DEFAULT_ASPECT_RATIO,
  DEFAULT_FPS,
  DEFAULT_FRAMES,
  DEFAULT_RESOLUTION,
  Fps,
  FrameCount,
  Resolution,
} from "./settings.ts";

/** Diffusion parameters shared by generate() and rollout() (seed defaults). */
export const DiffusionParams = z.object({
  negativePrompt: z.string().default(""),
  resolution: Resolution.default(DEFAULT_RESOLUTION),
  aspectRatio: AspectRatio.default(DEFAULT_ASPECT_RATIO),
  fps: Fps.default(DEFAULT_FPS),
  numFrames: FrameCount.default(DEFAULT_FRAMES),
  /** Classifier-free guidance (seed examples: 6.0). */
  guidanceScale: z.number().min(0).max(30).default(6.0),
  /** Denoising steps (seed examples: 35). */
  numInferenceSteps: z.number().int().min(1).max(200).default(35),
  /** Scheduler flow shift (seed examples: 10.0). */
  flowShift: z.number().gt(0).max(100).default(10.0),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  /** Prompt tokens kept for conditioning (Cosmos 3 default 512). */
  maxSequenceLength: z.number().int().min(1).max(4096).default(512),
  useResolutionTemplate: z.boolean().default(false),
  useDurationTemplate: z.boolean().default(false),
  /** Safety guardrails (prompt screening, face blur); on by default as on the servers. */
  guardrails: z.boolean().default(true),
  /** Where to write the result; a temp file is written first and renamed, so no half-written file is left. */
  outputPath: z.string().min(1).optional(),
});

const GenerateShape = DiffusionParams.extend({
  prompt: z.string().min(1),
  output: z.enum(["image", "video"]).default("video"),
  image: ImageInput.optional(),
  video: VideoInput.optional(),
  /** Generate a stereo 48 kHz AAC track muxed into the MP4. */
  sound: z.boolean().default(false),
  /** Video-to-video: which source frames stay as clean conditioning. */
  conditionFrameIndexes: z.array(z.number().int().min(0)).min(1).optional(),
  /** Video-to-video: how many leading source frames to keep. */
  conditionVideoKeep: z.number().int().min(1).optional(),
}).strict();

/** `generate()` request with the rules tying outputs to inputs. */
export const GenerateRequest = GenerateShape.superRefine((r, ctx) => {
  const bad = (path: string, message: string, allowed: string) =>
    ctx.addIssue({ code: "custom", path: [path], message, params: { allowed } });
  if (r.image && r.video) bad("video", "give an image or a video to condition on, not both", "image or video");
  if (r.output === "image") {
    if (r.sound) bad("sound", "an image has no sound track", "sound: false with output: image");
    if (r.image || r.video) bad(r.image ? "image" : "video", "text-to-image takes text only", "no image or video");
  }
  if ((r.conditionFrameIndexes || r.conditionVideoKeep) && !r.video) {
    bad(r.conditionFrameIndexes ? "conditionFrameIndexes" : "conditionVideoKeep", "conditioning frames need a source video", "a video input");
  }
  const over = r.conditionFrameIndexes?.find((i) => i >= r.numFrames);
  if (over !== undefined) bad("conditionFrameIndexes", `frame index ${over} is past numFrames`, `0..${r.numFrames - 1}`);
  if (r.outputPath) {
    const ext = r.outputPath.split(".").pop()?.toLowerCase();
    const okExt = r.output === "image" ? ["jpg", "jpeg", "png"] : ["mp4"];
    if (!ext || !okExt.includes(ext)) bad("outputPath", `an ${r.output} is written as .${okExt.join("/.")}`, okExt.map((e) => "." + e).join(", "));
  }
});
export type GenerateRequestInput = z.input<typeof GenerateRequest>;
export type GenerateRequest = z.output<typeof GenerateRequest>;

/** The seed's Generator workflow names. */
export type GenerationMode =
  | "text-to-image"
  | "text-to-video"
  | "text-to-video-with-sound"
  | "image-to-video"
  | "image-to-video-with-sound"
  | "video-to-video"
  | "video-to-video-with-sound";

/** Which workflow a validated request is. */
export function generationMode(r: GenerateRequest): GenerationMode {
  if (r.output === "image") return "text-to-image";
  const base = r.image ? "image-to-video" : r.video ? "video-to-video" : "text-to-video";
  return (r.sound ? `${base}-with-sound` : base) as GenerationMode;
}
