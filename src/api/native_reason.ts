/**
 * `reason()` on the embedded native engine (Node-API module in `native/`).
 *
 * Until the in-process Qwen3-VL engine is built and loaded, this says so plainly and
 * tells the caller how to reach a vLLM / NIM server instead; it never fakes an answer.
 *
 * @example
 * ```ts
 * import { nativeReason } from "./native_reason.ts";
 * import { ReasonRequest } from "../schema/reason_request.ts";
 * const req = ReasonRequest.parse({ task: "caption", image: "assets/images/table.png" });
 * await nativeReason(req, { kind: "native", model: "models/qwen3vl-tiny" }, {}).catch((e) => console.log(e.message));
 * ```
 * @module
 */
import { UnsupportedError } from "../errors.ts";
import type { ReasonRequest } from "../schema/reason_request.ts";
import type { BackendSpec, ReasonResult, RunOptions } from "../schema/results.ts";

/** Runs a validated Reasoner request in-process. */
export function nativeReason(req: ReasonRequest, backend: BackendSpec, _options: RunOptions): Promise<ReasonResult> {
  return Promise.reject(
    new UnsupportedError(
      `The native Reasoner engine is not available in this build, so task "${req.task}" cannot run in-process (backend ${JSON.stringify(backend)}).`,
      { hint: "Set COSMOS_REASONER_BACKEND (or pass backend) to a vLLM / NIM server URL, e.g. http://127.0.0.1:8000/v1." },
    ),
  );
}
