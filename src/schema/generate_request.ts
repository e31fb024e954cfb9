/**
 * The request of `generate()`: text-to-image, text-to-video (± sound),
 * image-to-video (± sound) and video-to-video (± sound).
 *
 * Settings the caller leaves out are left to the model: cosmos-ts does not send them, so
 * the server (or the native engine) applies its own per-mode default, which differs by mode
 * (text-to-image 50 steps / guidance 7.0 only for timesteps 400-1000 / flow shift 3.0 at 1024x1024; video 35 / 6.0 / 10.0
 * at 1280x720; see src/schema/diffusion_defaults.ts). The validated request shows the values
 * a run will use in `effective`, and which of them are defaults in `effective.defaulted`.
 *
 * @example
 * ```ts
 * import { GenerateRequest, generationMode } from "./generate_request.ts";
 * const req = GenerateRequest.parse({ prompt: "A robot arm stacks two red cubes." });
 * generationMode(req); // "text-to-video"
 * req.numFrames; // undefined: not sent
 * req.effective.numFrames; // 189, the model's default
 * req.effective.numInferenceSteps; // 35
 * req.effective.guidanceInterval; // [0, 1000]: CFG on every step (text-to-image: [400, 1000])
 * ```
 * @module
 */
import { z } from "zod";
import {
  conditionPixelFrames,
  DEFAULT_CONDITION_FRAME_INDEXES,
  DEFAULT_CONDITION_VIDEO_KEEP,
  DEFAULT_IMAGE_SIZE,
  DEFAULT_MAX_SEQUENCE_LENGTH,
  DEFAULT_OUTPUT_FPS,
  DEFAULT_VIDEO_FRAMES,
  DEFAULT_VIDEO_SIZE,
  type GuidanceInterval,
  latentFrames,
  MODE_DEFAULTS,
  type ModeDefaults,
  roundedVideoFrames,
  TIMESTEP_RANGE,
} from "./diffusion_defaults.ts";
import { ImageInput, VideoInput } from "./media_input.ts";
import {
  AspectRatio,
  DEFAULT_ASPECT_RATIO,
  DEFAULT_RESOLUTION,
  Fps,
  FrameCount,
  pixelSize,
  Resolution,
} from "./settings.ts";

/**
 * Diffusion parameters shared by generate() and rollout(). Every one is optional: what is
 * left out is not sent, and the model's per-mode default applies (shown in `effective`).
 * Bounds are the server's (vLLM-Omni `protocol/videos.py:146-157`, `protocol/images.py:116-125`).
 */
export const DiffusionParams = z.object({
  /** What to avoid; the model uses an empty one when left out. */
  negativePrompt: z.string().optional(),
  /** Resolution tier; with `aspectRatio` it picks the size from Cosmos 3's table (480p when only `aspectRatio` is given). */
  resolution: Resolution.optional(),
  /** Aspect ratio (16:9 when only `resolution` is given). */
  aspectRatio: AspectRatio.optional(),
  fps: Fps.optional(),
  numFrames: FrameCount.optional(),
  /** Classifier-free guidance, 0-20 (the server's bound). */
  guidanceScale: z.number().min(0).max(20).optional(),
  /** Denoising steps, 1-200 (the server's bound). */
  numInferenceSteps: z.number().int().min(1).max(200).optional(),
  /** Scheduler flow shift. */
  flowShift: z.number().gt(0).max(100).optional(),
  /**
   * The scheduler timesteps `[lo, hi]` (closed, 0 ≤ lo ≤ hi ≤ 1000) whose steps apply classifier-free guidance;
   * the other steps run the conditional pass alone (no unconditional forward). Sent as the server's
   * `extra_params.guidance_interval` (vLLM-Omni pipeline_cosmos3.py:3347, gated at :2476-2481). The model's
   * default: `[400, 1000]` for text-to-image, every step (`[0, 1000]`) otherwise.
   */
  guidanceInterval: z.tuple([z.number(), z.number()]).superRefine(([lo, hi], ctx) => {
    const [min, max] = TIMESTEP_RANGE;
    if (!(min <= lo && lo <= hi && hi <= max)) {
      ctx.addIssue({
        code: "custom",
        message: `[${lo}, ${hi}] is not an interval of scheduler timesteps`,
        params: { allowed: `[lo, hi] with ${min} <= lo <= hi <= ${max} (scheduler timesteps)` },
      });
    }
  }).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  /** Prompt tokens kept for conditioning; longer prompts are truncated (model default 4096). */
  maxSequenceLength: z.number().int().min(1).max(1_048_576).optional(),
  /** Prefix the prompt with "This video is of HxW resolution." (model default: off). */
  useResolutionTemplate: z.boolean().optional(),
  /** Prefix the prompt with the duration and frame rate (model default: off; never for images). */
  useDurationTemplate: z.boolean().optional(),
  /** Safety guardrails (prompt screening, face blur); the server's default is on. */
  guardrails: z.boolean().optional(),
  /** Where to write the result; a temp file is written first and renamed, so no half-written file is left. */
  outputPath: z.string().min(1).optional(),
});

/** The settings a run uses: the request's own, or the model's per-mode default. */
export interface EffectiveDiffusion {
  /** Output size; undefined for rollouts, where the server picks the tier's size closest to the observation's aspect ratio. */
  width?: number;
  height?: number;
  /** Frames produced (video requests are rounded up to 4k+1 by the model). */
  numFrames: number;
  fps: number;
  numInferenceSteps: number;
  guidanceScale: number;
  flowShift: number;
  /** Timesteps `[lo, hi]` whose steps apply CFG (`[0, 1000]`: every step). */
  guidanceInterval: GuidanceInterval;
  maxSequenceLength: number;
  /** Which of these settings the request left to the model's default (and cosmos-ts does not send). */
  defaulted: string[];
}

type DiffusionInput = z.output<typeof DiffusionParams>;

/** Steps, guidance (and its interval), flow shift and prompt length: the request's, else the mode's default. */
export function effectiveDenoising(
  r: DiffusionInput,
  defaults: ModeDefaults,
  defaulted: string[],
): Omit<EffectiveDiffusion, "numFrames" | "fps" | "defaulted"> {
  const pick = <K extends keyof ModeDefaults>(k: K): ModeDefaults[K] => {
    if (r[k] !== undefined) return r[k] as ModeDefaults[K];
    defaulted.push(k);
    return defaults[k];
  };
  const numInferenceSteps = pick("numInferenceSteps");
  const guidanceScale = pick("guidanceScale");
  const flowShift = pick("flowShift");
  const guidanceInterval = pick("guidanceInterval");
  if (r.maxSequenceLength === undefined) defaulted.push("maxSequenceLength");
  return {
    numInferenceSteps,
    guidanceScale,
    flowShift,
    guidanceInterval,
    maxSequenceLength: r.maxSequenceLength ?? DEFAULT_MAX_SEQUENCE_LENGTH,
  };
}

/** The size a request asks for, or undefined when it leaves the size to the model. */
export function requestedSize(
  r: Pick<DiffusionInput, "resolution" | "aspectRatio">,
): { width: number; height: number } | undefined {
  if (r.resolution === undefined && r.aspectRatio === undefined) return undefined;
  return pixelSize(r.resolution ?? DEFAULT_RESOLUTION, r.aspectRatio ?? DEFAULT_ASPECT_RATIO);
}

/** Why a `sound` that is not a boolean (an audio input) is refused. */
export const SOUND_INPUT_REFUSED =
  "sound is true or false (generate a sound track or not); sound as an input is not supported: diffusers' " +
  "Cosmos3OmniPipeline never conditions on input audio (all sound latents start as noise) and no released " +
  "Cosmos 3 checkpoint does";

const GenerateShape = DiffusionParams.extend({
  prompt: z.string().min(1),
  output: z.enum(["image", "video"]).default("video"),
  image: ImageInput.optional(),
  video: VideoInput.optional(),
  /**
   * Generate a stereo 48 kHz AAC track muxed into the MP4 (`true`), or a silent video.
   *
   * This is an output switch, not an input: sound cannot condition a generation. diffusers'
   * `Cosmos3OmniPipeline` never encodes input audio (every sound latent starts as noise,
   * `_prepare_sound_segment`), so "video-to-video with sound" means a new track for the new video.
   * Anything but a boolean here (a file, bytes, a waveform) is refused with that explanation until
   * a checkpoint supports sound conditioning.
   */
  sound: z.boolean({ error: SOUND_INPUT_REFUSED }).default(false),
  /**
   * Video-to-video: which **latent** frames of the output stay clean, taken from the source
   * video. One latent frame covers 4 video frames (the first covers frame 0 alone), so
   * `[0, 1]` (the model's default) conditions on source frames 0-4. Validated as the server
   * does (vLLM-Omni `cosmos3/utils.py:98-118`, `pipeline_cosmos3.py:2234-2240`): whole numbers
   * ≥ 0, at least one, each below the output's latent frame count; we also refuse duplicates,
   * which the server would silently merge.
   */
  conditionFrameIndexes: z.array(z.number().int().min(0)).min(1).optional(),
  /**
   * Video-to-video: which end of the source video is decoded for conditioning, `"first"`
   * (the default) or `"last"` (vLLM-Omni `cosmos3/utils.py:128-132`; anything else is an HTTP 400).
   */
  conditionVideoKeep: z.enum(["first", "last"]).optional(),
}).strict();

type GenerateShape = z.output<typeof GenerateShape>;

/** The settings a generate() request will run with (see the module doc). */
export interface EffectiveGenerate extends EffectiveDiffusion {
  width: number;
  height: number;
  /** Video-to-video only: the latent frames kept clean and the source frames they cover. */
  conditionFrameIndexes?: number[];
  conditionVideoKeep?: "first" | "last";
  conditionSourceFrames?: number;
}

/** What a validated generate() request will run with: its own settings, or the model's per-mode defaults. */
export function effectiveGenerate(r: GenerateShape): EffectiveGenerate {
  const defaulted: string[] = [];
  const image = r.output === "image";
  const size = requestedSize(r);
  if (!size) defaulted.push("size");
  const denoise = effectiveDenoising(r, image ? MODE_DEFAULTS.image : MODE_DEFAULTS.video, defaulted);
  if (!image && r.numFrames === undefined) defaulted.push("numFrames");
  if (!image && r.fps === undefined) defaulted.push("fps");
  const numFrames = image ? 1 : roundedVideoFrames(r.numFrames ?? DEFAULT_VIDEO_FRAMES);
  const out: EffectiveGenerate = {
    ...(size ?? (image ? DEFAULT_IMAGE_SIZE : DEFAULT_VIDEO_SIZE)),
    numFrames,
    fps: r.fps ?? DEFAULT_OUTPUT_FPS,
    ...denoise,
    defaulted,
  };
  if (r.video) {
    const indexes = r.conditionFrameIndexes ?? [...DEFAULT_CONDITION_FRAME_INDEXES];
    if (!r.conditionFrameIndexes) defaulted.push("conditionFrameIndexes");
    if (!r.conditionVideoKeep) defaulted.push("conditionVideoKeep");
    out.conditionFrameIndexes = [...indexes].sort((a, b) => a - b);
    out.conditionVideoKeep = r.conditionVideoKeep ?? DEFAULT_CONDITION_VIDEO_KEEP;
    out.conditionSourceFrames = Math.min(conditionPixelFrames(indexes), numFrames);
  }
  return out;
}

/** `generate()` request with the rules tying outputs to inputs; `effective` holds the settings the run will use. */
export const GenerateRequest = GenerateShape.superRefine((r, ctx) => {
  const bad = (path: string, message: string, allowed: string) =>
    ctx.addIssue({ code: "custom", path: [path], message, params: { allowed } });
  if (r.image && r.video) bad("video", "give an image or a video to condition on, not both", "image or video");
  if (r.output === "image") {
    if (r.sound) bad("sound", "an image has no sound track", "sound: false with output: image");
    if (r.image || r.video) bad(r.image ? "image" : "video", "text-to-image takes text only", "no image or video");
    for (const k of ["numFrames", "fps", "useDurationTemplate"] as const) {
      if (r[k] !== undefined) bad(k, "an image has no frames or duration", `no ${k} with output: image`);
    }
  }
  if ((r.conditionFrameIndexes || r.conditionVideoKeep) && !r.video) {
    bad(
      r.conditionFrameIndexes ? "conditionFrameIndexes" : "conditionVideoKeep",
      "conditioning frames need a source video",
      "a video input",
    );
  }
  if (r.conditionFrameIndexes) {
    const frames = roundedVideoFrames(r.numFrames ?? DEFAULT_VIDEO_FRAMES);
    const latent = latentFrames(frames);
    const over = r.conditionFrameIndexes.find((i) => i >= latent);
    if (over !== undefined) {
      bad(
        "conditionFrameIndexes",
        `latent frame ${over} is past the output's ${latent} latent frames (${frames} video frames, 4 per latent frame after the first)`,
        `latent indexes 0..${latent - 1}`,
      );
    }
    const dup = r.conditionFrameIndexes.find((i, k, a) => a.indexOf(i) !== k);
    if (dup !== undefined) {
      bad("conditionFrameIndexes", `latent frame ${dup} is listed twice`, "distinct latent indexes");
    }
  }
  if (r.outputPath) {
    const ext = r.outputPath.split(".").pop()?.toLowerCase();
    const okExt = r.output === "image" ? ["jpg", "jpeg", "png"] : ["mp4"];
    if (!ext || !okExt.includes(ext)) {
      bad(
        "outputPath",
        `an ${r.output} is written as .${okExt.join("/.")}`,
        okExt.map((e) => "." + e).join(", "),
      );
    }
  }
}).transform((r) => ({ ...r, effective: effectiveGenerate(r) }));
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
