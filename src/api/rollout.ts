/**
 * `rollout()`: vision + action chunks in, predicted video and/or action chunks out —
 * policy, forward dynamics and inverse dynamics for an embodiment, on a vLLM-Omni server or in-process
 * on the native engine (./native_rollout.ts).
 *
 * @example
 * ```ts
 * import { rollout } from "./rollout.ts";
 * const r = await rollout(
 *   { mode: "policy", embodiment: "droid", image: "assets/images/tabletop.png", prompt: "Pick up the red cube." },
 *   { backend: "http://127.0.0.1:8000" },
 * );
 * console.log(r.actions?.length);
 * // Raw DROID actions with the domain's statistics (cosmos-framework's normalizer_stats JSON):
 * const fd = await rollout({
 *   mode: "forward_dynamics", embodiment: "droid", image: "assets/images/tabletop.png",
 *   actions: "droid_actions.json", normalization: { stats: "droid_lerobot_stats.json" },
 * }, { backend: "http://127.0.0.1:8000" });
 * console.log(fd.actionSpaces?.charted); // "raw"
 * ```
 * @module
 */
import { resolveBackend } from "../backend/resolve.ts";
import { throwIfAborted } from "../errors.ts";
import { RolloutRequest, type RolloutRequestInput } from "../schema/rollout_request.ts";
import type { RolloutResult, RunOptions } from "../schema/results.ts";
import { parseWith } from "../schema/validate.ts";
import { checkRunOptions } from "./options.ts";
import { prepareRolloutActions, withActionSpaces } from "./rollout_actions.ts";

/**
 * Runs one world-model request.
 *
 * Settings left out take vLLM-Omni's action-mode defaults on both backends (`MODE_DEFAULTS.action`,
 * src/schema/diffusion_defaults.ts): 30 steps, guidance 1.0 (no CFG), flow shift 5.0, action chunk 16
 * (vLLM-Omni `pipeline_cosmos3.py:3306-3320`). cosmos-framework's CLI uses flow shift 10.0 for these modes
 * (`inference/defaults/{forward_dynamics,inverse_dynamics,wam}/sample_args.json:4`) and diffusers'
 * `Cosmos3OmniPipeline` 35 steps and guidance 6.0 (`pipeline_cosmos3_omni.py:1324-1325`); pass `flowShift: 10`
 * to match the CLI. The gripper column of single- and dual-arm chunks is Cosmos 3's convention: 1 = open,
 * 0 = closed (README.md "Differences from the Cosmos 3 README").
 * @throws {ValidationError} for invalid requests (the checkpoint's rules included).
 */
export async function rollout(request: RolloutRequestInput, options: RunOptions = {}): Promise<RolloutResult> {
  const req = parseWith(RolloutRequest, request, "request");
  checkRunOptions(options);
  throwIfAborted(options.signal);
  const backend = resolveBackend(options.backend, "generator");
  // Actions reach the backend in the model's normalised space; the result gets both spaces back.
  const prepared = await prepareRolloutActions(req);
  if (backend.kind === "remote") {
    const { remoteRollout } = await import("../remote/mod.ts");
    return withActionSpaces(await remoteRollout(prepared.request, backend, options), prepared);
  }
  const { nativeRollout } = await import("./native_rollout.ts");
  return withActionSpaces(await nativeRollout(prepared.request, backend, options), prepared);
}
