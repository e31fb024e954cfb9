/**
 * The BPE model of huggingface/tokenizers (`models/bpe`): a word (one pre-token, already in
 * byte-level characters) starts as one symbol per character; the adjacent pair with the lowest
 * merge rank (leftmost on ties) is merged until no pair has a rank. Results are cached per word.
 * Supports `unk_token` (+ `fuse_unk`), `byte_fallback` (`<0xHH>` tokens), `ignore_merges`,
 * `continuing_subword_prefix` and `end_of_word_suffix`.
 *
 * @example
 * ```ts
 * import { BpeModel } from "./bpe.ts";
 * const bpe = new BpeModel({ vocab: { a: 0, b: 1, c: 2, ab: 3, abc: 4 }, merges: ["a b", ["ab", "c"]] });
 * bpe.tokenize("abc"); // [4]
 * bpe.tokenize("cab"); // [2, 3]
 * ```
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { BpeModelJson } from "./schema.ts";

const CACHE_LIMIT = 10_000;

/**
 * A BPE model built from `tokenizer.json`'s `model` (see the module docs).
 *
 * @example
 * ```ts
 * import { BpeModel } from "./bpe.ts";
 * new BpeModel({ vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] }).tokenize("abab"); // [2, 2]
 * ```
 */
export class BpeModel {
  /** Token string → id. */
  readonly vocab: Map<string, number>;
  /** Id → token string. */
  readonly vocabR: Map<number, string>;
  /** `${leftId} ${rightId}` → [rank, merged id]. */
  readonly #merges = new Map<string, [number, number]>();
  readonly #cache = new Map<string, number[]>();
  readonly #unkId?: number;
  readonly #prefix: string;
  readonly #suffix: string;
  readonly #fuseUnk: boolean;
  readonly #byteFallback: boolean;
  readonly #ignoreMerges: boolean;

  constructor(json: Pick<BpeModelJson, "vocab" | "merges"> & Partial<BpeModelJson>) {
    this.vocab = new Map(Object.entries(json.vocab));
    this.vocabR = new Map();
    for (const [t, id] of this.vocab) this.vocabR.set(id, t);
    this.#prefix = json.continuing_subword_prefix ?? "";
    this.#suffix = json.end_of_word_suffix ?? "";
    this.#fuseUnk = json.fuse_unk ?? false;
    this.#byteFallback = json.byte_fallback ?? false;
    this.#ignoreMerges = json.ignore_merges ?? false;
    if (json.unk_token) {
      this.#unkId = this.vocab.get(json.unk_token);
      if (this.#unkId === undefined) {
        throw new CheckpointError(
          `tokenizer.json: model.unk_token ${JSON.stringify(json.unk_token)} is not in model.vocab.`,
          {
            hint: "Use the tokenizer.json that came with the checkpoint.",
          },
        );
      }
    }
    (json.merges ?? []).forEach((m, rank) => {
      const [a, b] = typeof m === "string" ? splitMerge(m) : m;
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const merged = a + (this.#prefix && b.startsWith(this.#prefix) ? b.slice(this.#prefix.length) : b);
      const im = this.vocab.get(merged);
      if (ia === undefined || ib === undefined || im === undefined) {
        throw new CheckpointError(
          `tokenizer.json: model.merges[${rank}] (${JSON.stringify(m)}) uses a token that is not in model.vocab.`,
          {
            hint: "The tokenizer.json is corrupt or not a BPE tokenizer; download it again.",
          },
        );
      }
      const key = `${ia} ${ib}`;
      if (!this.#merges.has(key)) this.#merges.set(key, [rank, im]);
    });
  }

  /**
   * Token ids of one word (one pre-token).
   *
   * @example
   * ```ts
   * import { BpeModel } from "./bpe.ts";
   * new BpeModel({ vocab: { h: 0, i: 1, hi: 2 }, merges: ["h i"] }).tokenize("hih"); // [2, 0]
   * ```
   */
  tokenize(word: string): number[] {
    if (word === "") return [];
    if (this.#ignoreMerges) {
      const id = this.vocab.get(word);
      if (id !== undefined) return [id];
    }
    const hit = this.#cache.get(word);
    if (hit) return hit.slice();
    const ids = this.#mergeWord(word);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(word, ids);
    return ids.slice();
  }

  #initialSymbols(word: string): number[] {
    const chars = [...word];
    const out: number[] = [];
    let unk: number | undefined; // pending (fused) unknown
    const flushUnk = () => {
      if (unk !== undefined) out.push(unk);
      unk = undefined;
    };
    chars.forEach((c, i) => {
      let s = c;
      if (i > 0) s = this.#prefix + s;
      if (i === chars.length - 1) s = s + this.#suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        flushUnk();
        out.push(id);
        return;
      }
      if (this.#byteFallback) {
        const bytes = new TextEncoder().encode(c);
        const ids = [...bytes].map((b) => this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`));
        if (ids.every((x) => x !== undefined)) {
          flushUnk();
          out.push(...(ids as number[]));
          return;
        }
      }
      if (this.#unkId !== undefined) {
        if (unk !== undefined && !this.#fuseUnk) flushUnk();
        unk = this.#unkId;
      }
      // Without an unk token, huggingface/tokenizers drops the character.
    });
    flushUnk();
    return out;
  }

  #mergeWord(word: string): number[] {
    const syms = this.#initialSymbols(word);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      let bestId = -1;
      for (let i = 0; i + 1 < syms.length; i++) {
        const m = this.#merges.get(`${syms[i]} ${syms[i + 1]}`);
        if (m && m[0] < bestRank) {
          bestRank = m[0];
          best = i;
          bestId = m[1];
        }
      }
      if (best < 0) return syms;
      syms.splice(best, 2, bestId);
    }
  }
}

function splitMerge(m: string): [string, string] {
  const i = m.indexOf(" ", 1);
  if (i < 0) {
    throw new CheckpointError(`tokenizer.json: merge ${JSON.stringify(m)} is not "left right".`, {
      hint: "The tokenizer.json is corrupt; download it again.",
    });
  }
  return [m.slice(0, i), m.slice(i + 1)];
}
