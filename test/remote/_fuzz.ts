/**
 * Seeded randomness for the fuzz tests (the same seed gives the same cases on Node, Deno and
 * in CI): a PRNG and random JSON values.
 */
import { Prng } from "../../src/world/prng.ts";

/** A seeded PRNG returning numbers in [0, 1): the world's mulberry32 (src/world/prng.ts). */
export function rng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

/** One of `items`, at random. */
export function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)];
}

const SCALARS: readonly unknown[] = [
  null,
  0,
  -1,
  1,
  2.5,
  1e308,
  -0,
  true,
  false,
  "",
  "x",
  "queued",
  "completed",
  "failed",
  "0",
  "NaN",
  "[1,2]",
  '{"a":1}',
  "é漢🤖",
];

/** A random JSON value, nested up to `depth` levels. */
export function randomJson(r: () => number, depth = 3): unknown {
  const k = r();
  if (depth <= 0 || k < 0.4) return pick(r, SCALARS);
  if (k < 0.7) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth - 1));
  return Object.fromEntries(
    Array.from(
      { length: Math.floor(r() * 4) },
      () => [pick(r, ["id", "status", "data", "shape", "error", "action", "k"]), randomJson(r, depth - 1)],
    ),
  );
}

/** `value`, or (with probability `p`) a random JSON value in its place. */
export function maybe(r: () => number, value: unknown, p = 0.15): unknown {
  return r() < p ? randomJson(r, 2) : value;
}
