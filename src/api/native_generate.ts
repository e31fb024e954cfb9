/**
 * `generate()` on the embedded native engine: the request is planned as diffusers'
 * Cosmos3OmniPipeline plans it (src/generator), the conditioning media are read and fitted to the
 * output size as the pipeline does ({@link conditioningClip}: i2v, the image covers the frame,
 * centre-cropped; v2v, the source frames stretched to it), the engine runs the request (src/native/generator.ts) and the frames are
 * written through src/media, atomically: an image as PNG (or JPEG by `outputPath`), a video as
 * H.264 MP4. Frames are the pipeline's postprocess: (x / 2 + 0.5) clamped to [0, 1], times 255,
 * rounded.
 *
 * Text-to-video on a checkpoint whose `cosmos-ts.json` names a `"text_to_video"` recipe (the mini Generator's,
 * src/native/generator.ts `TextToVideoRecipe`) runs in two passes: a first frame, the first decoded frame of a
 * text-to-video pass without sound ("first_frame_anchored") or a text-to-image pass at the video's size
 * ("image_anchored"), then image-to-video from it with the same prompt, settings and seed; the result is the second
 * pass's, marked `textToVideoRecipe`. Every other checkpoint runs the pipeline's one pass. With a `"first_frame_check"`
 * too (the mini Generator's), pass 1 draws up to its `candidates` first frames with seeds seed, seed + 1, … and keeps
 * the first its Reasoner finds right (src/api/first_frame_check.ts); pass 2 then runs with the kept frame's seed, and
 * the result's `firstFrameCheck` says which. A checkpoint noting `"prompt_places": true` gets a text-to-image or
 * text-to-video prompt with places written in (src/world `promptWithPlaces`), reported as `upsampledPrompt`.
 *
 * Sound (t2v / i2v / v2v with `sound: true`, on a checkpoint with a sound_gen transformer and
 * `sound_tokenizer/`): the engine generates the sound latents with the video (same timesteps and CFG, their
 * own sampler state) and decodes them with the AVAE; the waveform (the tokenizer's sampling rate, 48 kHz
 * stereo shipped) is muxed into the MP4 as 48 kHz stereo AAC, so the result plays with sound inline. The
 * sound is generated, never conditioned on: diffusers has no audio input (a `sound` that is not a boolean is
 * refused by the request schema). Resizing is sharp's bilinear, close to but not bit-equal
 * with torch's antialiased interpolate and the VideoProcessor's PIL resize (same-size inputs are exact).
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
import { throwIfAborted } from "../errors.ts";
import {
  conditioningClip,
  distilledGenerateRequest,
  generateRun,
  generatorInputs,
  type GeneratorPlan,
  planGeneration,
  type RunMedia,
} from "../generator/mod.ts";
import { pcmFromPlanar } from "../media/audio.ts";
import { readImage } from "../media/images.ts";
import type { RgbFrame } from "../media/video_decode.ts";
import type { MediaSource } from "../media/source.ts";
import { decodeVideoFrames, encodeVideo, probeVideo } from "../media/video.ts";
import type { AudioInput } from "../media/video_encode.ts";
import { writeImage } from "../media/images.ts";
import { openCosmos3Generator } from "../native/generator.ts";
import { judgeFirstFrame } from "./first_frame_check.ts";
import { promptWithPlaces } from "../world/mod.ts";
import { localPathOf, mediaBytes } from "../reasoner/messages.ts";
import { boundsOf } from "../remote/http.ts";
import { defaultOutputPath } from "../remote/output.ts";
import { type GenerateRequest, generationMode } from "../schema/generate_request.ts";
import { isRemoteUrl } from "../schema/media_input.ts";
import type { ImageInput, VideoInput } from "../schema/media_input.ts";
import type { BackendSpec, FirstFrameCheckResult, GenerateResult, MediaFile, RunOptions } from "../schema/results.ts";

/** A request's media reference as a source: a local path read in place, else its bytes (data URL, remote URL). */
export async function sourceOf(ref: ImageInput | VideoInput, field: string, opts: RunOptions): Promise<MediaSource> {
  if (typeof ref === "string" && !ref.startsWith("data:") && !isRemoteUrl(ref)) return localPathOf(ref, field);
  return await mediaBytes(ref, opts.signal, { ...boundsOf(opts), field });
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
 * The pixels the engine encodes for `plan` (`condVideo`): the causal prefix, 1 + 4 · max(clean latent frame)
 * frames, of the pipeline's conditioning clip ({@link conditioningClip}); undefined when every latent frame is noisy.
 */
export async function conditioningPixels(
  plan: GeneratorPlan,
  media: { image?: RgbFrame; frames?: readonly RgbFrame[] },
  signal?: AbortSignal,
): Promise<Float32Array | undefined> {
  if (plan.cleanLatentFrames.length === 0) return undefined;
  const clip = await conditioningClip(plan, media, { signal });
  if (!clip) return undefined;
  const frames = 1 + 4 * Math.max(...plan.cleanLatentFrames);
  if (frames === clip.frames) return clip.data;
  // [3, F, H, W]: each channel's first `frames` planes.
  const plane = clip.height * clip.width;
  const out = new Float32Array(3 * frames * plane);
  for (let c = 0; c < 3; c++) {
    const from = c * clip.frames * plane;
    out.set(clip.data.subarray(from, from + frames * plane), c * frames * plane);
  }
  return out;
}

/** The engine's decoded sound: a planar waveform [channels, samples] in [-1, 1] at `sampleRate`. */
export interface DecodedSound {
  wave: Float32Array;
  channels: number;
  sampleRate: number;
}

/**
 * Writes the engine's decoded video [3, F, H, W] in [-1, 1] as an H.264 MP4 at `path`, with `sound` (if any)
 * muxed as 48 kHz stereo AAC (src/media resamples other rates), described as a MediaFile.
 */
export async function writeVideo(
  out: { video: Float32Array; frames: number; height: number; width: number },
  fps: number,
  path: string,
  signal?: AbortSignal,
  sound?: DecodedSound,
): Promise<MediaFile> {
  const F = out.frames, H = out.height, W = out.width;
  const frames = Array.from({ length: F }, (_, f) => pixelsToFrame(out.video, f, F, H, W));
  let audio: AudioInput | undefined;
  if (sound) {
    const pcm = pcmFromPlanar(sound.wave, sound.channels, sound.sampleRate);
    audio = { pcm: pcm.samples, sampleRate: pcm.sampleRate, channels: pcm.channels };
  }
  const r = await encodeVideo(frames, { output: path, fps, width: W, height: H, signal, audio });
  return {
    path: r.path,
    mimeType: "video/mp4",
    width: r.width,
    height: r.height,
    numFrames: r.frames,
    fps: r.fps,
    hasSound: r.hasAudio,
  };
}

/** The decoded conditioning media of a generate() request: the i2v image, the v2v source frames its plan uses. */
async function conditioningMedia(
  plan: GeneratorPlan,
  sources: { image?: MediaSource; video?: MediaSource },
  signal?: AbortSignal,
): Promise<{ image?: RgbFrame; frames?: RgbFrame[] }> {
  if (plan.cleanLatentFrames.length === 0) return {};
  if (plan.image && sources.image) return { image: await readImage(sources.image, { signal }) };
  if (plan.video && sources.video) {
    const used = [...new Set(plan.video.frameMap)].sort((a, b) => a - b);
    const decoded = await decodeVideoFrames(sources.video, { frameIndices: used, signal });
    const frames: RgbFrame[] = [];
    used.forEach((source, k) => frames[source] = decoded[k]);
    return { frames };
  }
  return {};
}

/** Runs a validated generate() request in-process on the checkpoint `backend.checkpoint`. */
export async function nativeGenerate(
  req: GenerateRequest,
  backend: BackendSpec,
  options: RunOptions,
): Promise<GenerateResult> {
  if (backend.kind !== "native") throw new TypeError("nativeGenerate needs a native backend");
  const mode = generationMode(req);
  const { signal, onProgress } = options;
  const session = await openCosmos3Generator(backend.checkpoint, onProgress, { quantization: backend.quantization });
  // A distilled few-step checkpoint runs on its fixed schedule, guidance 1; `effective` lists what did not apply.
  if (session.model.distilled) req = distilledGenerateRequest(req, session.model.distilled);
  // Weights trained on prompts that say where each object stands (cosmos-ts.json prompt_places, the mini Generator)
  // draw a scene from a prompt without places less reliably: they are written in first, as Cosmos 3's prompt
  // upsampling writes the dense prompt its Generator was trained on; the result says what ran.
  let upsampledPrompt: string | undefined;
  if (session.promptPlaces && mode.startsWith("text-to-")) {
    const placed = promptWithPlaces(req.prompt);
    if (placed !== req.prompt) req = { ...req, prompt: upsampledPrompt = placed };
  }
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
  const run = generateRun(req, media);
  let plan = planGeneration(run, session.model);
  const seed = req.seed ?? randomInt(0, 2 ** 31);
  let anchor: RgbFrame | undefined;
  let passSeed = seed;
  let check: FirstFrameCheckResult | undefined;
  const recipe = mode === "text-to-video" ? session.textToVideo : "direct";
  const anchored = recipe !== "direct";
  if (anchored) {
    // The checkpoint's recipe (cosmos-ts.json): pass 1 for the first frame alone, text-to-video without sound or
    // text-to-image (one frame, the image templates) at the video's size.
    const first = planGeneration(
      recipe === "image_anchored" ? { ...run, task: "t2i", numFrames: 1, sound: false } : { ...run, sound: false },
      session.model,
    );
    const firstInputs = generatorInputs(first, session.tokenizer, session.model);
    // With a first-frame check, pass 1 draws up to `candidates` first frames (seeds seed, seed + 1, …) and keeps the
    // first the Reasoner finds right; when none is, the first that has the prompt's objects drawn once each in other
    // places than the prompt's (`found`), else the first candidate.
    const ffc = session.firstFrameCheck;
    const candidates = ffc?.candidates ?? 1;
    const reasoner: BackendSpec | undefined = ffc &&
      { kind: "native", checkpoint: ffc.reasoner, device: backend.device };
    for (let k = 0; k < candidates; k++) {
      const candidateSeed = (seed + k) % 2 ** 31;
      const label = candidates > 1 ? `first frame ${k + 1} of up to ${candidates}` : "the first frame";
      const out1 = await session.run({
        plan: first,
        inputs: firstInputs,
        seed: candidateSeed,
        signal,
        onProgress: onProgress && ((e) => onProgress({ ...e, message: `pass 1 of 2, ${label}: ${e.message}` })),
      });
      const frame = pixelsToFrame(out1.video!, 0, out1.frames, out1.height, out1.width);
      throwIfAborted(signal);
      if (!reasoner) {
        anchor = frame;
        break;
      }
      onProgress?.({ stage: "preprocess", message: `pass 1 of 2, ${label}: the Reasoner checks it` });
      const verdict = await judgeFirstFrame(frame, req.prompt, reasoner, {
        signal,
        countColors: ffc?.countColors,
        places: ffc?.places,
      });
      if (k === 0 || verdict.accepted || (verdict.found && !check!.found)) {
        anchor = frame;
        passSeed = candidateSeed;
        check = { candidates: k + 1, chosen: k, seed: candidateSeed, ...verdict };
      }
      check!.candidates = k + 1;
      if (verdict.accepted) break;
    }
    // Pass 2: image-to-video from that frame, the same prompt and settings, the seed of the pass that drew it.
    plan = planGeneration(
      { ...run, task: "i2v", image: { width: anchor!.width, height: anchor!.height } },
      session.model,
    );
  }
  const inputs = generatorInputs(plan, session.tokenizer, session.model);
  const condMedia = anchor ? { image: anchor } : await conditioningMedia(plan, sources, signal);
  const condVideo = await conditioningPixels(plan, condMedia, signal);
  const out = await session.run({
    plan,
    inputs,
    condVideo,
    seed: passSeed,
    signal,
    onProgress: anchored && onProgress
      ? (e) => onProgress({ ...e, message: `pass 2 of 2, the video from that frame: ${e.message}` })
      : onProgress,
  });
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
    const sound = out.soundWave
      ? { wave: out.soundWave, channels: out.soundChannels, sampleRate: out.soundSampleRate }
      : undefined;
    file = await writeVideo(
      { video, frames: F, height: H, width: W },
      plan.fps,
      req.outputPath ?? defaultOutputPath(mode, "mp4"),
      signal,
      sound,
    );
  }
  const result: GenerateResult = {
    mode,
    media: file,
    seed,
    backend: describeBackend(backend),
    effective: req.effective,
  };
  if (session.untrained) {
    result.untrained = true;
  }
  if (anchored) result.textToVideoRecipe = recipe;
  if (check) result.firstFrameCheck = check;
  if (upsampledPrompt) result.upsampledPrompt = upsampledPrompt;
  return result;
}
