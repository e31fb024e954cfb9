/**
 * The action side of `rollout()` around any backend: a forward-dynamics chunk is read (from its
 * file) and mapped into the model's normalised space before the backend sees it, and the
 * result carries the chunk in both spaces ({@link RolloutActions}), raw ones only when the request
 * gave statistics (`normalization`, src/schema/action_normalization.ts).
 *
 * @example
 * ```ts
 * import { prepareRolloutActions } from "./rollout_actions.ts";
 * import { RolloutRequest } from "../schema/rollout_request.ts";
 * const req = RolloutRequest.parse({
 *   mode: "forward_dynamics", embodiment: "pusht", image: "obs.png", actions: [[5, 10]],
 *   normalization: { stats: { q01: [0, 0], q99: [10, 10] } },
 * });
 * const prepared = await prepareRolloutActions(req);
 * prepared.request.actions; // [[0, 1]]: what the model reads
 * ```
 * @module
 */
import { readActionStats } from "../media/actions.ts";
import {
  type ActionStats,
  denormalizeActions,
  type NormalizationMethod,
  normalizeActions,
} from "../schema/action_normalization.ts";
import { type ActionChunk, EMBODIMENTS } from "../schema/embodiments.ts";
import type { RolloutActions, RolloutResult } from "../schema/results.ts";
import { RolloutRequest } from "../schema/rollout_request.ts";
import { parseWith } from "../schema/validate.ts";

/** Statistics ready to use: the method, the columns and where they came from (a path, or "inline"). */
export interface ResolvedNormalization {
  method: NormalizationMethod;
  stats: ActionStats;
  source: string;
}

/** A request as the backend gets it (actions inline and normalised) and what the result needs to add both spaces. */
export interface PreparedRollout {
  request: RolloutRequest;
  normalization?: ResolvedNormalization;
  /** Forward dynamics: the chunk given, in both spaces. */
  given?: RolloutActions;
}

/**
 * Reads the statistics file and the action file when the request names them, and maps raw
 * actions into the model's space. A request without actions or statistics comes back as it is.
 * @throws {ValidationError} naming the field (a bad row or statistic); {@link MediaError} when a
 * file cannot be read.
 */
export async function prepareRolloutActions(req: RolloutRequest): Promise<PreparedRollout> {
  const dim = EMBODIMENTS[req.embodiment].actionDim;
  const n = req.normalization;
  const normalization: ResolvedNormalization | undefined = n === undefined ? undefined : {
    method: n.method,
    stats: typeof n.stats === "string" ? await readActionStats(n.stats, { dim, method: n.method }) : n.stats,
    source: typeof n.stats === "string" ? n.stats : "inline",
  };
  if (req.actions === undefined) return { request: withoutNormalization(req), normalization };
  if (typeof req.actions === "string") {
    const { withActionRows } = await import("../remote/rollout_client.ts");
    req = await withActionRows(req);
  }
  const rows = req.actions as ActionChunk;
  if (!normalization) {
    return { request: withoutNormalization(req), given: { role: "given", normalized: rows, charted: "normalized" } };
  }
  const { method, stats, source } = normalization;
  const raw = n?.input === "normalized" ? denormalizeActions(rows, method, stats) : rows;
  const normalized = n?.input === "normalized" ? rows : normalizeActions(rows, method, stats);
  const given: RolloutActions = {
    role: "given",
    normalized,
    raw,
    charted: "raw",
    normalization: { method, stats: source },
  };
  const { effective: _effective, normalization: _normalization, ...input } = req;
  // The backend works in model space only: normalised rows, no statistics (the schema checks the rows again).
  const request = parseWith(RolloutRequest, { ...input, actions: normalized }, "request");
  return { request, normalization, given };
}

/** The request without its statistics: what a backend, which works in model space, is given. */
function withoutNormalization(req: RolloutRequest): RolloutRequest {
  const { normalization: _normalization, ...rest } = req;
  return rest;
}

/**
 * The backend's result with `actionSpaces`: the forward-dynamics chunk given, or the predicted
 * one with its raw twin when statistics were given.
 */
export function withActionSpaces(result: RolloutResult, prepared: PreparedRollout): RolloutResult {
  if (result.actions && result.actions.length > 0) {
    const norm = prepared.normalization;
    const actionSpaces: RolloutActions = norm
      ? {
        role: "predicted",
        normalized: result.actions,
        raw: denormalizeActions(result.actions, norm.method, norm.stats),
        charted: "raw",
        normalization: { method: norm.method, stats: norm.source },
      }
      : { role: "predicted", normalized: result.actions, charted: "normalized" };
    return { ...result, actionSpaces };
  }
  return prepared.given ? { ...result, actionSpaces: prepared.given } : result;
}
