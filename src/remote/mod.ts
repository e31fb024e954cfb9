/**
 * Remote backends: the Reasoner on vLLM / NIM (OpenAI chat completions) and the
 * Generator on vLLM-Omni (images, videos, action rollouts).
 *
 * @example
 * ```ts
 * import { remoteReason } from "./mod.ts";
 * import { ReasonRequest } from "../schema/reason_request.ts";
 * const r = await remoteReason(ReasonRequest.parse({ task: "custom", prompt: "Hi" }), { url: "http://127.0.0.1:8000/v1" });
 * ```
 * @module
 */
export type { RemoteBackend, RemoteOptions } from "./options.ts";
export { chatRequestBody, remoteReason, servedModel } from "./reasoner_client.ts";
export {
  commonExtraParams,
  diffusionFields,
  generateExtraParams,
  imageRequestBody,
  remoteGenerate,
  syncTimeoutError,
  VIDEO_SYNC_TIMEOUT_MS,
} from "./generator_client.ts";
export { forwardDynamicsChunk, remoteRollout, rolloutExtraParams } from "./rollout_client.ts";
export { actionChunkOf, deleteVideoJob, failedJobError, parseVideoJob, runVideoJob, VideoAction, VideoJob, type VideoJobOptions } from "./jobs.ts";
export { apiBase, DEFAULT_TIMEOUT_MS, hintFor, type HttpOptions, request, retryAfterMs, serverMessageOf, sleep } from "./http.ts";
export { chatChunks, type ChatChunk, type SseEvent, sseEvents, SseParser } from "./sse.ts";
export { type FilePart, filePartOf, type MultipartBody, multipartInit, videoForm } from "./form.ts";
export { defaultOutputPath, writeImageOutput, writeVideoOutput } from "./output.ts";
