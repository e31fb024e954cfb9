/**
 * What a Cosmos 3 Generator uses for each setting a request leaves out, per mode, as
 * vLLM-Omni's Cosmos 3 pipeline decides it (`vllm_omni/diffusion/models/cosmos3/pipeline_cosmos3.py`
 * at vraiti/vllm-omni `d6240742`). cosmos-ts sends only what the user set, so these are the
 * values a run really gets; {@link effectiveDiffusion} shows them on every validated request.
 *
 * The figures are for Cosmos3-Nano / Super. Cosmos3-Edge differs (pipeline_cosmos3.py:173-178:
 * video 832x480, guidance 5.0, flow shift 3.0; image 640x640).
 *
 * @example
 * ```ts
 * import { MODE_DEFAULTS } from "./diffusion_defaults.ts";
 * MODE_DEFAULTS.image.numInferenceSteps; // 50
 * MODE_DEFAULTS.action.guidanceScale; // 1
 * MODE_DEFAULTS.image.guidanceInterval; // [400, 1000]: CFG only at those timesteps
 * ```
 * @module
 */

/** The denoising settings a mode falls back to. */
export interface ModeDefaults {
  numInferenceSteps: number;
  guidanceScale: number;
  flowShift: number;
  /** The scheduler timesteps `[lo, hi]` (closed) whose steps apply classifier-free guidance. */
  guidanceInterval: GuidanceInterval;
}

/** Scheduler timesteps `[lo, hi]`, closed, on the 0-1000 scale of Cosmos 3's schedulers (`num_train_timesteps`). */
export type GuidanceInterval = readonly [number, number];

/** The timestep scale a guidance interval lives on: every Cosmos 3 timestep is in [0, 1000]. */
export const TIMESTEP_RANGE: GuidanceInterval = Object.freeze([0, 1000] as const);

/**
 * CFG on every step: every timestep is inside [0, 1000], so the server (which compares the raw timestep,
 * pipeline_cosmos3.py:2476-2481) and the native engine guide each step with it.
 */
export const GUIDANCE_EVERY_STEP: GuidanceInterval = TIMESTEP_RANGE;

/** vLLM-Omni's text-to-image interval: CFG only for timesteps 400-1000 (`COSMOS3_T2I_DEFAULT_GUIDANCE_INTERVAL`). */
export const T2I_GUIDANCE_INTERVAL: GuidanceInterval = Object.freeze([400, 1000] as const);

/**
 * Per-mode defaults of the pipeline:
 * - `image` (text-to-image): 50 steps, guidance 7.0, flow shift 3.0, 1024x1024
 *   (pipeline_cosmos3.py:166-170, applied at :3276-3282), and CFG only for timesteps 400-1000
 *   (`COSMOS3_T2I_DEFAULT_GUIDANCE_INTERVAL`, :171, :3283, read at :3347, gated in diffuse() at :2476-2481,
 *   whose sequential-CFG loop skips the uncond pass outside it, :2643-2687); the native engine does the same;
 * - `video` (text/image/video-to-video, ± sound): 35 steps, guidance 6.0, 1280x720, 189 frames
 *   (:159-163, applied at :3284-3295), CFG on every step (no interval, :3297); the flow shift is the engine's
 *   start-up value, 10.0 unless the server was started with another `flow_shift` (:164, :969-975);
 * - `action` (policy, forward and inverse dynamics): 30 steps, guidance 1.0, flow shift 5.0
 *   (:3318-3320), no interval.
 *
 * cosmos-framework's CLI and diffusers' pipeline differ (README.md "Differences from the Cosmos 3 README").
 */
export const MODE_DEFAULTS = Object.freeze(
  {
    image: Object.freeze({
      numInferenceSteps: 50,
      guidanceScale: 7.0,
      flowShift: 3.0,
      guidanceInterval: T2I_GUIDANCE_INTERVAL,
    }),
    video: Object.freeze({
      numInferenceSteps: 35,
      guidanceScale: 6.0,
      flowShift: 10.0,
      guidanceInterval: GUIDANCE_EVERY_STEP,
    }),
    action: Object.freeze({
      numInferenceSteps: 30,
      guidanceScale: 1.0,
      flowShift: 5.0,
      guidanceInterval: GUIDANCE_EVERY_STEP,
    }),
  } satisfies Record<string, ModeDefaults>,
);

/** Text-to-image size when none is sent (pipeline_cosmos3.py:166-167). */
export const DEFAULT_IMAGE_SIZE = Object.freeze({ width: 1024, height: 1024 });
/** Video size when none is sent (pipeline_cosmos3.py:159-160). */
export const DEFAULT_VIDEO_SIZE = Object.freeze({ width: 1280, height: 720 });
/** Video frames when none are sent (pipeline_cosmos3.py:161). */
export const DEFAULT_VIDEO_FRAMES = 189;
/** Frames per second when none are sent: the video is written at 24 (pipeline_cosmos3.py:3349, protocol/videos.py:32). */
export const DEFAULT_OUTPUT_FPS = 24;
/** Prompt tokens kept when `max_sequence_length` is not sent (pipeline_cosmos3.py:185). */
export const DEFAULT_MAX_SEQUENCE_LENGTH = 4096;
/** Action chunk when neither a chunk size nor a frame count is sent (pipeline_cosmos3.py:3306-3308). */
export const DEFAULT_ACTION_CHUNK = 16;
/** Temporal compression of the Wan2.2 VAE: one latent frame covers 4 video frames (cosmos3/utils.py:28). */
export const VAE_TEMPORAL_COMPRESSION = 4;
/** Vision-conditioning latent frames of video-to-video when none are sent (cosmos3/utils.py:22). */
export const DEFAULT_CONDITION_FRAME_INDEXES: readonly number[] = Object.freeze([0, 1]);
/** Which end of the source video video-to-video decodes when not sent (cosmos3/utils.py:23). */
export const DEFAULT_CONDITION_VIDEO_KEEP = "first";

/**
 * Frames a video (not action) request really produces: the pipeline rounds the count up to
 * the VAE's `4k + 1` grid (pipeline_cosmos3.py:188-196, applied at :3322-3334).
 */
export function roundedVideoFrames(numFrames: number): number {
  if (numFrames <= 1) return numFrames;
  return Math.ceil((numFrames - 1) / VAE_TEMPORAL_COMPRESSION) * VAE_TEMPORAL_COMPRESSION + 1;
}

/** Latent frames of a video of `numFrames` frames (cosmos3/action.py:131; pipeline_cosmos3.py:2231). */
export function latentFrames(numFrames: number): number {
  return Math.floor((numFrames - 1) / VAE_TEMPORAL_COMPRESSION) + 1;
}

/** Source-video frames that latent conditioning indexes cover: `max · 4 + 1` (cosmos3/utils.py:121-125). */
export function conditionPixelFrames(indexes: readonly number[]): number {
  return Math.max(...indexes) * VAE_TEMPORAL_COMPRESSION + 1;
}
