/**
 * The seed split: every world sample is made from one integer seed, and the seeds of the
 * training set and of the held-out evaluation set come from two ranges that never meet.
 * The training-data writer refuses held-out seeds ({@link assertSeedInSplit}); the evaluation
 * draws only from {@link SEED_SPLITS}.eval.
 *
 * | split | seeds (half-open) | use |
 * | --- | --- | --- |
 * | `train` | `[0, 1_000_000_000)` | training data (tools/train/world_data.ts) |
 * | `eval` | `[1_000_000_000, 1_000_100_000)` | held-out evaluation (bench), cookbook inputs |
 *
 * @example
 * ```ts
 * import { assertSeedInSplit, splitOfSeed } from "./seeds.ts";
 * splitOfSeed(7); // "train"
 * splitOfSeed(1_000_000_003); // "eval"
 * try {
 *   assertSeedInSplit("train", 1_000_000_003);
 * } catch (e) {
 *   (e as Error).name; // "ValidationError": a held-out seed
 * }
 * ```
 * @module
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";

export const SeedSplit = z.enum(["train", "eval"]);
export type SeedSplit = z.infer<typeof SeedSplit>;

/** The seed ranges, half-open `[from, to)`. */
export const SEED_SPLITS: Readonly<Record<SeedSplit, Readonly<{ from: number; to: number }>>> = Object.freeze({
  train: Object.freeze({ from: 0, to: 1_000_000_000 }),
  eval: Object.freeze({ from: 1_000_000_000, to: 1_000_100_000 }),
});

/** The split a seed belongs to, or undefined for a seed in neither range. */
export function splitOfSeed(seed: number): SeedSplit | undefined {
  if (!Number.isInteger(seed)) return undefined;
  for (const split of SeedSplit.options) {
    const r = SEED_SPLITS[split];
    if (seed >= r.from && seed < r.to) return split;
  }
  return undefined;
}

/**
 * Checks that a seed belongs to a split.
 * @throws {ValidationError} naming `field`, the seed and the split's range.
 */
export function assertSeedInSplit(split: SeedSplit, seed: number, field = "seed"): void {
  const actual = splitOfSeed(seed);
  if (actual === split) return;
  const r = SEED_SPLITS[split];
  const why = actual === "eval" && split === "train"
    ? "a held-out evaluation seed is never used for training"
    : actual === undefined
    ? "the seed is in no split"
    : `the seed belongs to the ${actual} split`;
  throw new ValidationError([{
    field,
    value: seed,
    allowed: `an integer in [${r.from}, ${r.to}) for the ${split} split`,
    message: why,
  }]);
}

/**
 * `count` consecutive seeds of a split starting `offset` seeds into it.
 * @throws {ValidationError} when the range runs past the split's end.
 */
export function seedsOf(split: SeedSplit, count: number, offset = 0): number[] {
  const r = SEED_SPLITS[split];
  if (
    !Number.isInteger(count) || count < 0 || !Number.isInteger(offset) || offset < 0 || r.from + offset + count > r.to
  ) {
    throw new ValidationError([{
      field: "count",
      value: { count, offset },
      allowed: `0 <= offset, offset + count <= ${r.to - r.from} (the ${split} split's size)`,
      message: "the seeds run past the split",
    }]);
  }
  return Array.from({ length: count }, (_, i) => r.from + offset + i);
}
