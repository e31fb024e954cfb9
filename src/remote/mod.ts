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
export { remoteRollout, rolloutExtraParams, withActionRows } from "./rollout_client.ts";
export {
  actionChunkOf,
  deleteVideoJob,
  failedJobError,
  parseVideoJob,
  runVideoJob,
  VideoAction,
  VideoJob,
  type VideoJobOptions,
} from "./jobs.ts";
export {
  apiBase,
  boundsOf,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DOWNLOAD_TIMEOUT_MS,
  DEFAULT_FIRST_BYTE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_POLL_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  downloadMedia,
  hintFor,
  type HttpBounds,
  type HttpOptions,
  request,
  retryAfterMs,
  serverMessageOf,
  sleep,
} from "./http.ts";
export { ChatChunk, chatChunks, MAX_SSE_LINE_CHARS, type SseEvent, sseEvents, SseParser } from "./sse.ts";
export { type FilePart, filePartOf, type MultipartBody, multipartInit, videoForm } from "./form.ts";
export { defaultOutputPath, writeImageOutput, writeVideoOutput } from "./output.ts";
