// The seed split (training never sees a held-out seed) and the PRNG's determinism.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ValidationError } from "../../src/errors.ts";
import { assertSeedInSplit, Prng, SEED_SPLITS, seedsOf, splitOfSeed, subSeed } from "../../src/world/mod.ts";

describe("Prng", () => {
  test("same seed, same sequence; another seed, another", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xs = Array.from({ length: 50 }, () => a.next());
    assert.deepEqual(Array.from({ length: 50 }, () => b.next()), xs);
    assert.notDeepEqual(Array.from({ length: 50 }, () => c.next()), xs);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });
  test("mulberry32's published first outputs for seed 0 (0.2664…, 0.00033…, 0.2233…)", () => {
    const r = new Prng(0);
    assert.deepEqual([r.next(), r.next(), r.next()].map((x) => Math.round(x * 4294967296)), [
      1144304738,
      1416247,
      958946056,
    ]);
  });
  test("int covers its range; subSeed separates purposes", () => {
    const r = new Prng(1);
    const seen = new Set(Array.from({ length: 400 }, () => r.int(1, 6)));
    assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6]);
    assert.notEqual(subSeed(5, "scene"), subSeed(5, "scenario"));
    assert.equal(subSeed(5, "scene"), subSeed(5, "scene"));
  });
});

describe("seed split", () => {
  test("the ranges do not meet", () => {
    assert.ok(SEED_SPLITS.train.to <= SEED_SPLITS.eval.from);
    assert.equal(splitOfSeed(0), "train");
    assert.equal(splitOfSeed(SEED_SPLITS.train.to - 1), "train");
    assert.equal(splitOfSeed(SEED_SPLITS.eval.from), "eval");
    assert.equal(splitOfSeed(SEED_SPLITS.eval.to), undefined);
    assert.equal(splitOfSeed(1.5), undefined);
  });
  test("a held-out seed is refused for training, naming the field and the range", () => {
    assert.doesNotThrow(() => assertSeedInSplit("train", 12));
    assert.throws(() => assertSeedInSplit("train", SEED_SPLITS.eval.from + 3), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.equal(e.field, "seed");
      assert.equal(e.value, SEED_SPLITS.eval.from + 3);
      assert.match(e.message, /held-out evaluation seed is never used for training/);
      assert.match(e.allowed, /\[0, 1000000000\)/);
      return true;
    });
    assert.throws(() => assertSeedInSplit("eval", 12), /belongs to the train split/);
  });
  test("seedsOf stays inside its split", () => {
    assert.deepEqual(seedsOf("train", 3, 10), [10, 11, 12]);
    assert.deepEqual(seedsOf("eval", 2), [SEED_SPLITS.eval.from, SEED_SPLITS.eval.from + 1]);
    assert.throws(() => seedsOf("eval", 5, SEED_SPLITS.eval.to - SEED_SPLITS.eval.from - 2), ValidationError);
    assert.throws(() => seedsOf("train", -1), ValidationError);
    for (const s of seedsOf("train", 1000, SEED_SPLITS.train.to - SEED_SPLITS.train.from - 1000)) {
      assert.equal(splitOfSeed(s), "train");
    }
  });
});
