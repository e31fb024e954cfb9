/**
 * Action normalisation: Cosmos 3 reads and writes actions in a normalised space, one per domain.
 * Training maps raw actions into it with per-domain statistics, and inference (cosmos-framework's
 * `inference/action.py`, `action_normalizer=None`) expects callers to do the same. The methods and
 * formulas are cosmos-framework's (`cosmos_framework/data/generator/action/action_normalization.py`):
 *
 * | method | normalise | denormalise |
 * | --- | --- | --- |
 * | `quantile` (q01/q99, the datasets' default) | `2(a − q01) / max(q99 − q01, 1e-8) − 1` | `(n + 1)(q99 − q01) / 2 + q01` |
 * | `meanstd` | `(a − mean) / max(std, 1e-8)` | `n · std + mean` |
 * | `minmax` | `2(a − min) / max(max − min, 1e-8) − 1` | `(n + 1)(max − min) / 2 + min` |
 *
 * Statistics are the framework's `normalizer_stats/*.json` layout (`{"q01": [...], "q99": [...]}`,
 * one entry per action column; other keys are ignored, as its `load_action_stats` does).
 *
 * @example
 * ```ts
 * import { denormalizeActions, normalizeActions } from "./action_normalization.ts";
 * const stats = { q01: [-1, 0], q99: [1, 4] };
 * normalizeActions([[0, 4]], "quantile", stats); // [[0, 1]]
 * denormalizeActions([[0, 1]], "quantile", stats); // [[0, 4]]
 * ```
 * @module
 */
import { z } from "zod";
import type { ActionChunk } from "./embodiments.ts";

/** cosmos-framework's normalisation methods (`normalize_action(method=…)`). */
export const NormalizationMethod = z.enum(["quantile", "meanstd", "minmax"]);
export type NormalizationMethod = z.infer<typeof NormalizationMethod>;

const Column = z.array(z.number().finite()).min(1);

/** Per-column statistics of one domain (any subset; the method says which it needs). */
export const ActionStats = z.object({
  q01: Column.optional(),
  q99: Column.optional(),
  mean: Column.optional(),
  std: Column.optional(),
  min: Column.optional(),
  max: Column.optional(),
});
export type ActionStats = z.infer<typeof ActionStats>;

/** The statistics each method reads: [low / centre, high / scale]. */
export const STATS_OF_METHOD: Readonly<Record<NormalizationMethod, readonly [keyof ActionStats, keyof ActionStats]>> =
  Object.freeze({ quantile: ["q01", "q99"], meanstd: ["mean", "std"], minmax: ["min", "max"] });

/**
 * `normalization` of a rollout request: statistics (inline, or a path to a cosmos-framework
 * stats JSON) and whether the request's `actions` are raw (default) or already normalised.
 */
export const ActionNormalization = z.object({
  method: NormalizationMethod.default("quantile"),
  stats: z.union([ActionStats, z.string().min(1)]),
  /** What the request's `actions` hold: raw units (normalised before the model sees them) or model space. */
  input: z.enum(["raw", "normalized"]).default("raw"),
}).strict();
export type ActionNormalizationInput = z.input<typeof ActionNormalization>;
export type ActionNormalization = z.output<typeof ActionNormalization>;

/** The floor cosmos-framework clamps a denominator to (`clamp(min=1e-8)`), so a constant column stays finite. */
const EPS = 1e-8;

/**
 * What is missing or mis-sized in `stats` for `method` on `dim`-wide actions, as
 * `[key, message]` pairs (empty when usable).
 * @example
 * ```ts
 * import { statsIssues } from "./action_normalization.ts";
 * statsIssues({ q01: [0] }, "quantile", 2); // [["q01", "..."], ["q99", "..."]]
 * ```
 */
export function statsIssues(
  stats: ActionStats,
  method: NormalizationMethod,
  dim: number,
): [keyof ActionStats, string][] {
  return STATS_OF_METHOD[method].flatMap((key): [keyof ActionStats, string][] => {
    const v = stats[key];
    if (!v) return [[key, `${method} normalisation needs "${key}" (${dim} numbers)`]];
    if (v.length !== dim) return [[key, `"${key}" has ${v.length} values; the actions have ${dim} columns`]];
    return [];
  });
}

function columns(stats: ActionStats, method: NormalizationMethod): [number[], number[]] {
  const [a, b] = STATS_OF_METHOD[method];
  const lo = stats[a], hi = stats[b];
  if (!lo || !hi) throw new RangeError(`${method} normalisation needs "${a}" and "${b}"`);
  return [lo, hi];
}

/**
 * Raw actions → the model's normalised space (cosmos-framework's `normalize_action`).
 * Stats must match the rows' width (checked by the request schema; {@link statsIssues}).
 */
export function normalizeActions(rows: ActionChunk, method: NormalizationMethod, stats: ActionStats): ActionChunk {
  const [lo, hi] = columns(stats, method);
  if (method === "meanstd") return rows.map((r) => r.map((a, d) => (a - lo[d]) / Math.max(hi[d], EPS)));
  return rows.map((r) => r.map((a, d) => (2 * (a - lo[d])) / Math.max(hi[d] - lo[d], EPS) - 1));
}

/** The model's normalised actions → raw units (cosmos-framework's `denormalize_action`; no clamp, as there). */
export function denormalizeActions(rows: ActionChunk, method: NormalizationMethod, stats: ActionStats): ActionChunk {
  const [lo, hi] = columns(stats, method);
  if (method === "meanstd") return rows.map((r) => r.map((n, d) => n * hi[d] + lo[d]));
  return rows.map((r) => r.map((n, d) => 0.5 * (n + 1) * (hi[d] - lo[d]) + lo[d]));
}
