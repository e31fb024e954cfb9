/**
 * `reason()`: text + image/video in, text out — the nine Cosmos 3 Reasoner workflows,
 * on the native engine or a vLLM / NIM server.
 *
 * @example
 * ```ts
 * import { reason } from "./reason.ts";
 * const r = await reason(
 *   { task: "caption", video: "assets/videos/pick_place.mp4" },
 *   { backend: "http://127.0.0.1:8000/v1", onToken: (t) => console.log(t.text) },
 * );
 * console.log(r.answer);
 * ```
 * @module
 */
import { resolveBackend } from "../backend/resolve.ts";
import { throwIfAborted } from "../errors.ts";
import { ReasonRequest, type ReasonRequestInput } from "../schema/reason_request.ts";
import type { ReasonResult, RunOptions } from "../schema/results.ts";
import { parseWith } from "../schema/validate.ts";
import { checkRunOptions } from "./options.ts";

/**
 * Runs one Reasoner request.
 * @throws {ValidationError} when the request breaks a rule (the error names the field and what is allowed).
 */
export async function reason(request: ReasonRequestInput, options: RunOptions = {}): Promise<ReasonResult> {
  const req = parseWith(ReasonRequest, request, "request");
  checkRunOptions(options);
  throwIfAborted(options.signal);
  const backend = resolveBackend(options.backend, "reasoner");
  if (backend.kind === "remote") {
    const { remoteReason } = await import("../remote/mod.ts");
    return await remoteReason(req, backend, options);
  }
  const { nativeReason } = await import("./native_reason.ts");
  return await nativeReason(req, backend, options);
}
