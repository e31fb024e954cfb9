/**
 * Schemas of cosmos-ts: the Cosmos 3 settings, inputs, embodiments, sampling presets,
 * chat messages and the requests of `reason()`, `generate()` and `rollout()`.
 * Every schema is also its type (`z.infer`).
 *
 * @example
 * ```ts
 * import { GenerateRequest, pixelSize } from "./mod.ts";
 * const req = GenerateRequest.parse({ prompt: "A warehouse robot.", resolution: "720p" });
 * pixelSize(req.resolution ?? "480p", req.aspectRatio ?? "16:9"); // { width: 1280, height: 720 }
 * ```
 * @module
 */
export * from "./settings.ts";
export * from "./sampling.ts";
export * from "./embodiments.ts";
export * from "./action_normalization.ts";
export * from "./media_input.ts";
export * from "./messages.ts";
export * from "./reason_request.ts";
export * from "./generate_request.ts";
export * from "./rollout_request.ts";
export * from "./results.ts";
export * from "./validate.ts";
