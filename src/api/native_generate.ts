/**
 * `generate()` on the embedded native engine: the request is planned as diffusers'
 * Cosmos3OmniPipeline plans it (src/generator), the conditioning media are read and fitted to the
 * output size (i2v: the image covers the frame, centre-cropped; v2v: the source frames the clean
 * latent frames cover), the engine runs the request (src/native/generator.ts) and the frames are
 * written through src/media, atomically: an image as PNG (or JPEG by `outputPath`), a video as
 * H.264 MP4. Frames are the pipeline's postprocess: (x / 2 + 0.5) clamped to [0, 1], times 255,
 * rounded.
 *
 * Sound (t2v / i2v / v2v with sound) needs the sound tokenizer, which the native engine does not
 * have yet: an UnsupportedError says so. Resizing: i2v uses sharp's bilinear cover resize and v2v
 * ffmpeg's bicubic cover scale, close to but not bit-equal with torch's antialiased bilinear
 * interpolate and the VideoProcessor (same-size inputs are exact).
 *
 * @example
 * ```ts
 * import { nativeGenerate } from "./native_generate.ts";
 * import { GenerateRequest } from "../schema/generate_request.ts";
 * const req = GenerateRequest.parse({
 *   prompt: "A cube.", output: "image", resolution: "256p", aspectRatio: "1:1", numInferenceSteps: 1,
 * });
 * const r = await nativeGenerate(req, { kind: "native", checkpoint: "test/fixtures/cosmos3-tiny" }, {});
 * r.media.path; // outputs/text-to-image-....png (noise: the fixture is untrained)
 * ```
 * @module
 */
import { randomInt } from "node:crypto";
import { describeBackend } from "../backend/resolve.ts";
import { throwIfAborted, UnsupportedError } from "../errors.ts";
import {
  type ActionCanvas,
  generateRun,
  generatorInputs,
  type GeneratorPlan,
  planGeneration,
  type RunMedia,
} from "../generator/mod.ts";
import { readImage, resizeImage } from "../media/images.ts";
import type { RgbFrame } from "../media/video_decode.ts";
import type { MediaSource } from "../media/source.ts";
import { decodeVideoFrames, encodeVideo, probeVideo } from "../media/video.ts";
import { writeImage } from "../media/images.ts";
import { openCosmos3Generator } from "../native/generator.ts";
import { localPathOf, mediaBytes } from "../reasoner/messages.ts";
import { boundsOf } from "../remote/http.ts";
import { defaultOutputPath } from "../remote/output.ts";
import { type GenerateRequest, generationMode } from "../schema/generate_request.ts";
import { isRemoteUrl } from "../schema/media_input.ts";
import type { ImageInput, VideoInput } from "../schema/media_input.ts";
import type { BackendSpec, GenerateResult, MediaFile, RunOptions } from "../schema/results.ts";

async function sourceOf(ref: ImageInput | VideoInput, field: string, opts: RunOptions): Promise<MediaSource> {
  if (typeof ref === "string" && !ref.startsWith("data:") && !isRemoteUrl(ref)) return localPathOf(ref, field);
  return await mediaBytes(ref, opts.signal, { ...boundsOf(opts), field });
}

/** u8 RGB frames (HWC) into [3, frames, H, W] floats in [-1, 1], as the pipeline's x / 127.5 - 1. */
export function framesToPixels(frames: readonly RgbFrame[]): Float32Array {
  const { width: W, height: H } = frames[0];
  const F = frames.length;
  const out = new Float32Array(3 * F * H * W);
  frames.forEach((fr, f) => {
    for (let i = 0; i < H * W; i++) {
      for (let c = 0; c < 3; c++) out[(c * F + f) * H * W + i] = fr.data[i * 3 + c] / 127.5 - 1;
    }
  });
  return out;
}

/** Frame f of [3, F, H, W] in [-1, 1] as u8 RGB: round(clamp(x / 2 + 0.5, 0, 1) · 255), the pipeline's postprocess. */
export function pixelsToFrame(video: Float32Array, f: number, F: number, H: number, W: number): RgbFrame {
  const data = new Uint8Array(H * W * 3);
  for (let c = 0; c < 3; c++) {
    const base = (c * F + f) * H * W;
    for (let i = 0; i < H * W; i++) {
      const v = Math.min(1, Math.max(0, video[base + i] / 2 + 0.5));
      data[i * 3 + c] = Math.round(v * 255);
    }
  }
  return { width: W, height: H, channels: 3, data };
}

/**
 * An action run's frame on its canvas (`_prepare_action_video_conditioning`): the content at the top-left, the rest
 * padded right and bottom by `replicate` (edge) or `reflect` (mirror without the edge), as torch's F.pad.
 */
export function padToCanvas(frame: RgbFrame, canvas: ActionCanvas): RgbFrame {
  const { width: W, height: H } = canvas.canvas;
  const { width: w, height: h } = frame;
  const mirror = (i: number, n: number) => {
    if (canvas.padMode !== "reflect") return Math.min(i, n - 1);
    const period = 2 * (n - 1);
    const k = period > 0 ? i % period : 0;
    return k < n ? k : period - k;
  };
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = mirror(y, h);
    for (let x = 0; x < W; x++) {
      const sx = mirror(x, w);
      for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = frame.data[(sy * w + sx) * 3 + c];
    }
  }
  return { width: W, height: H, channels: 3, data };
}

/** The pixels of the plan's clean latent frames (the causal prefix 1 + 4 · max clean frame). */
async function conditioningPixels(
  req: GenerateRequest,
  plan: GeneratorPlan,
  sources: { image?: MediaSource; video?: MediaSource },
  signal?: AbortSignal,
): Promise<Float32Array | undefined> {
  if (plan.cleanLatentFrames.length === 0) return undefined;
  const frames = 1 + 4 * Math.max(...plan.cleanLatentFrames);
  const size = { width: plan.width, height: plan.height };
  if (plan.task === "i2v" && sources.image) {
    const img = await readImage(sources.image, { signal });
    const fitted = img.width === size.width && img.height === size.height
      ? img
      : await resizeImage(img, { ...size, fit: "cover", kernel: "linear", signal });
    return framesToPixels(Array.from({ length: frames }, () => fitted));
  }
  if (plan.task === "v2v" && sources.video && plan.video) {
    const picks = plan.video.frameMap.slice(0, frames);
    const decoded = await decodeVideoFrames(sources.video, { frameIndices: picks, ...size, fit: "cover", signal });
    return framesToPixels(decoded);
  }
  void req;
  return undefined;
}

/** Runs a validated generate() request in-process on the checkpoint `backend.checkpoint`. */
export async function nativeGenerate(
  req: GenerateRequest,
  backend: BackendSpec,
  options: RunOptions,
): Promise<GenerateResult> {
  if (backend.kind !== "native") throw new TypeError("nativeGenerate needs a native backend");
  const mode = generationMode(req);
  if (req.sound) {
    throw new UnsupportedError(
      `The native engine has no Cosmos 3 sound tokenizer yet, so ${mode} cannot run in-process.`,
      {
        hint:
          "Leave sound off for a silent video, or set COSMOS_GENERATOR_BACKEND (or pass backend) to a vLLM-Omni server URL.",
      },
    );
  }
  const { signal, onProgress } = options;
  const session = await openCosmos3Generator(backend.checkpoint, onProgress);
  throwIfAborted(signal);
  onProgress?.({ stage: "preprocess", message: "Reading the conditioning media" });
  const sources: { image?: MediaSource; video?: MediaSource } = {};
  const media: RunMedia = {};
  if (req.image) {
    sources.image = await sourceOf(req.image, "image", options);
    const img = await readImage(sources.image, { signal });
    media.image = { width: img.width, height: img.height };
  }
  if (req.video) {
    sources.video = await sourceOf(req.video, "video", options);
    const info = await probeVideo(sources.video, { signal });
    media.video = { width: info.width, height: info.height, frames: info.frameCount };
  }
  const plan = planGeneration(generateRun(req, media), session.model);
  const inputs = generatorInputs(plan, session.tokenizer, session.model);
  const condVideo = await conditioningPixels(req, plan, sources, signal);
  const seed = req.seed ?? randomInt(0, 2 ** 31);
  const out = await session.run({ plan, inputs, condVideo, seed, signal, onProgress });
  const video = out.video!;
  const F = out.frames, H = out.height, W = out.width;
  let file: MediaFile;
  if (mode === "text-to-image") {
    const path = req.outputPath ?? defaultOutputPath(mode, "png");
    const written = await writeImage(pixelsToFrame(video, 0, F, H, W), path, { signal });
    file = {
      path: written,
      mimeType: /\.jpe?g$/i.test(written) ? "image/jpeg" : "image/png",
      width: W,
      height: H,
      hasSound: false,
    };
  } else {
    const path = req.outputPath ?? defaultOutputPath(mode, "mp4");
    const frames = Array.from({ length: F }, (_, f) => pixelsToFrame(video, f, F, H, W));
    const r = await encodeVideo(frames, { output: path, fps: plan.fps, width: W, height: H, signal });
    file = {
      path: r.path,
      mimeType: "video/mp4",
      width: r.width,
      height: r.height,
      numFrames: r.frames,
      fps: r.fps,
      hasSound: false,
    };
  }
  const result: GenerateResult = { mode, media: file, seed, backend: describeBackend(backend) };
  if (session.untrained) {
    result.untrained = true;
  }
  return result;
}
