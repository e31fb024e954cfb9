/**
 * `reason()` on the embedded native engine: the request's image / video go through the same
 * Qwen3-VL preprocessing as transformers (src/media, src/multimodal), the checkpoint's chat
 * template and tokenizer build the prompt, the Node-API module runs the vision tower and the
 * text decoder, and the output is parsed exactly as on the remote path (src/reasoner).
 *
 * @example
 * ```ts
 * import { nativeReason } from "./native_reason.ts";
 * import { ReasonRequest } from "../schema/reason_request.ts";
 * const req = ReasonRequest.parse({ task: "custom", prompt: "Describe a robot arm.", maxTokens: 16 });
 * const r = await nativeReason(req, { kind: "native", checkpoint: "test/fixtures/qwen3vl-tiny" }, {});
 * console.log(r.answer); // gibberish: the fixture's weights are random
 * ```
 * @module
 */
import { describeBackend } from "../backend/resolve.ts";
import { NativeError, throwIfAborted, ValidationError } from "../errors.ts";
import type { MediaSource } from "../media/source.ts";
import { prepareQwenImage, prepareQwenVideo } from "../media/qwen_media.ts";
import type { PromptImage, PromptVideo } from "../multimodal/mod.ts";
import { nativeDeviceInfo } from "../native/mod.ts";
import type { TemplatePart } from "../chat_template/mod.ts";
import { openQwen3VL, type TemplateMessages } from "../native/qwen3vl.ts";
import { drawSubjectMarks } from "../reasoner/marks.ts";
import { localPathOf, mediaBytes, userText } from "../reasoner/messages.ts";
import { boundsOf } from "../remote/http.ts";
import { reasonResult } from "../reasoner/result.ts";
import { ThinkStreamSplitter } from "../reasoner/think.ts";
import { isRemoteUrl } from "../schema/media_input.ts";
import type { ImageInput, VideoInput } from "../schema/media_input.ts";
import type { ReasonRequest } from "../schema/reason_request.ts";
import type { BackendSpec, ReasonResult, RunOptions } from "../schema/results.ts";
import { reasonerSampling } from "../schema/sampling.ts";

/**
 * A local path stays a path (ffmpeg and sharp read it); anything else becomes bytes (an
 * http(s) download under the call's bounds). A malformed `file://` URL or data URI is a
 * ValidationError naming `field`.
 */
async function sourceOf(ref: ImageInput | VideoInput, field: string, opts: RunOptions): Promise<MediaSource> {
  if (typeof ref === "string" && !ref.startsWith("data:") && !isRemoteUrl(ref)) return localPathOf(ref, field);
  return await mediaBytes(ref, opts.signal, { ...boundsOf(opts), field });
}

/**
 * The request's `imageSize` as smart-resize pixel bounds: the same `size` `{shortest_edge,
 * longest_edge}` a remote server gets in `mm_processor_kwargs` (both are areas in pixels, not
 * side lengths). Unset: the checkpoint's own bounds apply.
 */
function imageBounds(size: ReasonRequest["imageSize"]): { minPixels?: number; maxPixels?: number } {
  return size ? { minPixels: size.shortestEdge, maxPixels: size.longestEdge } : {};
}

/** Runs a validated Reasoner request in-process on the checkpoint `backend.checkpoint`. */
export async function nativeReason(
  req: ReasonRequest,
  backend: BackendSpec,
  options: RunOptions,
): Promise<ReasonResult> {
  if (backend.kind !== "native") throw new TypeError("nativeReason needs a native backend");
  const { signal, onProgress, onToken } = options;
  if (backend.quantization === "fp8") {
    throw new ValidationError([{
      field: "backend.quantization",
      value: backend.quantization,
      allowed: '"none" (or leave it out)',
      message:
        "fp8 is a Generator load option (generate(), rollout()); the native Reasoner runs in its checkpoint's precision",
    }]);
  }
  const device = nativeDeviceInfo();
  if (backend.device === "cuda" && device.modelBackend !== "cuda") {
    throw new NativeError(
      `COSMOS_DEVICE=cuda, but the Reasoner's decoder runs on ${device.modelBackend} here (${device.reason}).`,
      {
        hint:
          "Unset COSMOS_DEVICE (or set it to cpu) to run on the CPU, or use a machine with an NVIDIA GPU and a CUDA build (bash scripts/build-native.sh with nvcc).",
      },
    );
  }
  if (backend.device === "cpu" && device.modelBackend !== "cpu") {
    // The engine picks its device once per process, from COSMOS_DEVICE, at the first native call.
    throw new NativeError(
      `The native engine already runs on ${device.modelBackend} in this process; it cannot switch to the CPU per call.`,
      {
        hint:
          "Set COSMOS_DEVICE=cpu before the first native call (restart the notebook's kernel), or leave device unset.",
      },
    );
  }
  const session = await openQwen3VL(backend.checkpoint, onProgress);
  throwIfAborted(signal);

  // A text-only request has no media to read: its preprocessing is the prompt alone.
  const hasMedia = req.image !== undefined || req.video !== undefined;
  onProgress?.({ stage: "preprocess", message: hasMedia ? "Reading and resizing the media" : "Building the prompt" });
  const parts: TemplatePart[] = [];
  const images: PromptImage[] = [];
  const videos: PromptVideo[] = [];
  if (req.image !== undefined) {
    const src = req.subjects
      ? await drawSubjectMarks(
        await mediaBytes(req.image, signal, { ...boundsOf(options), field: "request.image" }),
        req.subjects,
      )
      : await sourceOf(req.image, "request.image", options);
    const { image } = await prepareQwenImage(src, {
      ...session.processor.image,
      ...imageBounds(req.imageSize),
      signal,
    });
    images.push({ frames: [image] });
    parts.push({ type: "image" });
  }
  if (req.video !== undefined) {
    const { frames, plan } = await prepareQwenVideo(
      await sourceOf(req.video, "request.video", options),
      req.videoSampling ?? {},
      session.processor.video,
      { signal },
    );
    videos.push({ frames, timestamps: plan.timestamps });
    parts.push({ type: "video" });
  }
  parts.push({ type: "text", text: userText(req) });
  const messages: TemplateMessages = [
    { role: "system", content: [{ type: "text", text: req.system }] },
    { role: "user", content: parts },
  ];
  const prompt = await session.prepare(messages, { images, videos }, { signal });

  const s = { ...reasonerSampling(req.reasoning), ...req.sampling };
  const splitter = new ThinkStreamSplitter(req.reasoning);
  const stream = req.stream && onToken;
  // The prompt's visual tensors (the tower's outputs, on its device) go as soon as the reply is done.
  const out = await session.generate(prompt, {
    maxTokens: s.max_tokens ?? req.maxTokens,
    sampling: {
      temperature: s.temperature,
      topK: Math.max(0, s.top_k), // vLLM's -1 (off) is the engine's 0
      topP: s.top_p,
      repetitionPenalty: s.repetition_penalty,
      presencePenalty: s.presence_penalty,
      // vLLM draws a fresh seed per request when none is given; so do we.
      seed: s.seed ?? Math.floor(Math.random() * 2 ** 31),
    },
    stop: req.stop,
    signal,
    onProgress,
    onText: stream ? (t) => splitter.push(t).forEach(onToken) : undefined,
  }).finally(() => prompt.dispose());
  if (stream) splitter.end().forEach(onToken);
  return reasonResult(req, out.text, {
    backend: describeBackend({ ...backend, device: device.modelBackend === "cuda" ? "cuda" : "cpu" }),
    usage: {
      promptTokens: prompt.ids.length,
      completionTokens: out.tokens.length,
      totalTokens: prompt.ids.length + out.tokens.length,
    },
    finishReason: out.finishReason,
  });
}
