/**
 * `rollout()` on the embedded native engine (policy, forward and inverse dynamics): the request is
 * planned as diffusers' Cosmos3OmniPipeline plans an action run (src/generator: the tier's canvas,
 * the content crop in whole latents, clean vs noisy latent frames and action tokens, the domain),
 * the observation is fitted on the canvas as `_prepare_action_video_conditioning` does
 * ({@link conditioningClip}: stretched to whole multiples of 16, scaled down to the content — sharp's
 * bicubic, close to torch's antialiased bicubic; same-size content is exact — then padded right and
 * bottom, replicate or reflect), the engine runs it
 * (src/native/generator.ts) and the predicted video is written as an H.264 MP4 (policy, forward
 * dynamics) and the actions returned at the embodiment's width (policy, inverse dynamics).
 *
 * Actions go in and come out in the space the request holds them in; mapping raw actions to the
 * model's normalised space is the caller's (rollout.ts), as for a server.
 *
 * @example
 * ```ts
 * import { nativeRollout } from "./native_rollout.ts";
 * import { RolloutRequest } from "../schema/rollout_request.ts";
 * const req = RolloutRequest.parse({
 *   mode: "policy", embodiment: "bridge", image: "test/fixtures/cosmos3-tiny-reference/media/action_00.png",
 *   prompt: "Pick up the cube.", resolution: "256p", actionChunkSize: 4, numInferenceSteps: 1,
 * });
 * const r = await nativeRollout(req, { kind: "native", checkpoint: "test/fixtures/cosmos3-tiny" }, {});
 * r.actions?.length; // 4 rows of 10 (noise: the fixture is untrained); r.video?.path: the predicted MP4
 * ```
 * @module
 */
import { randomInt } from "node:crypto";
import { describeBackend } from "../backend/resolve.ts";
import { throwIfAborted } from "../errors.ts";
import { generatorInputs, planGeneration, rolloutRun, type RunMedia } from "../generator/mod.ts";
import { readActionChunk } from "../media/actions.ts";
import { readImage } from "../media/images.ts";
import { decodeVideoFrames, probeVideo } from "../media/video.ts";
import type { RgbFrame } from "../media/video_decode.ts";
import { openCosmos3Generator } from "../native/generator.ts";
import { defaultOutputPath } from "../remote/output.ts";
import type { RolloutRequest } from "../schema/rollout_request.ts";
import type { BackendSpec, RolloutResult, RunOptions } from "../schema/results.ts";
import { conditioningPixels, sourceOf, writeVideo } from "./native_generate.ts";

/** Runs a validated rollout() request in-process on the checkpoint `backend.checkpoint`. */
export async function nativeRollout(
  req: RolloutRequest,
  backend: BackendSpec,
  options: RunOptions,
): Promise<RolloutResult> {
  if (backend.kind !== "native") throw new TypeError("nativeRollout needs a native backend");
  const { signal, onProgress } = options;
  const session = await openCosmos3Generator(backend.checkpoint, onProgress, { quantization: backend.quantization });
  throwIfAborted(signal);
  onProgress?.({ stage: "preprocess", message: "Reading the observation and the actions" });
  const e = req.effective;
  const rows = typeof req.actions === "string"
    ? await readActionChunk(req.actions, { dim: e.rawActionDim, field: "actions" })
    : undefined;
  // The observation's frames (an image is one frame; the canvas repeats the last one).
  let source: RgbFrame[];
  const media: RunMedia = {};
  if (req.video) {
    const src = await sourceOf(req.video, "video", options);
    const info = await probeVideo(src, { signal });
    media.video = { width: info.width, height: info.height, frames: info.frameCount };
    source = await decodeVideoFrames(src, { signal });
  } else {
    const src = await sourceOf(req.image!, "image", options);
    const img = await readImage(src, { signal });
    media.image = { width: img.width, height: img.height };
    source = [img];
  }
  const plan = planGeneration(rolloutRun(req, media, rows), session.model);
  const seed = req.seed ?? randomInt(0, 2 ** 31);
  const out = await session.run({
    plan,
    inputs: generatorInputs(plan, session.tokenizer, session.model),
    condVideo: await conditioningPixels(plan, { frames: source }, signal),
    seed,
    decode: req.mode !== "inverse_dynamics",
    signal,
    onProgress,
  });
  const result: RolloutResult = { mode: req.mode, embodiment: req.embodiment, backend: describeBackend(backend) };
  const a = plan.action!;
  if (a.predicts && out.action) {
    result.actions = Array.from(
      { length: a.tokens },
      (_, k) => Array.from(out.action!.subarray(k * a.actionDim, k * a.actionDim + a.rawActionDim)),
    );
  }
  if (out.video) {
    const path = req.outputPath ?? defaultOutputPath(req.mode, "mp4");
    result.video = await writeVideo({ ...out, video: out.video }, plan.fps, path, signal);
  }
  if (session.untrained) result.untrained = true;
  return result;
}
