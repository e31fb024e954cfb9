/**
 * The text-processing steps of a `tokenizer.json` around the BPE model, as functions:
 * normalizers (NFC/NFD/NFKC/NFKD, Lowercase, Replace, Prepend, Strip, Sequence),
 * pre-tokenizers (Split with every behaviour and `invert`, ByteLevel with `add_prefix_space`
 * and `use_regex`, Sequence) and decoders (ByteLevel, Sequence of those). Each follows
 * huggingface/tokenizers; an unknown `type` raises a {@link CheckpointError} naming it.
 *
 * @example
 * ```ts
 * import { buildPreTokenizer } from "./pipeline.ts";
 * const pre = buildPreTokenizer({ type: "ByteLevel", add_prefix_space: false, use_regex: true });
 * pre(["Hello world"]); // ["Hello", "Ġworld"]
 * ```
 * @module
 */
import { CheckpointError } from "../errors.ts";
import { byteLevelToBytes, bytesToByteLevel } from "./byte_level.ts";
import { literalRegex, translateRegex } from "./regex.ts";
import type { ComponentJson } from "./schema.ts";

/** A normalizer: text in, text out. */
export type Normalizer = (text: string) => string;
/** A pre-tokenizer: pieces in, finer pieces out (empty pieces dropped). */
export type PreTokenizer = (pieces: string[]) => string[];
/** A decoder: token strings in, bytes out (UTF-8 decoded by the caller). */
export type Decoder = (tokens: string[]) => Uint8Array;

/**
 * GPT-2's pre-tokenization regex (ByteLevel `use_regex: true`).
 *
 * @example
 * ```ts
 * import { GPT2_PATTERN } from "./pipeline.ts";
 * import { translateRegex } from "./regex.ts";
 * "I've 2 cats".match(translateRegex(GPT2_PATTERN)); // ["I", "'ve", " 2", " cats"]
 * ```
 */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

function unsupported(where: string, type: string): never {
  throw new CheckpointError(
    `tokenizer.json: ${where} type ${JSON.stringify(type)} is not supported by the cosmos-ts tokenizer.`,
    {
      hint: "Supported: byte-level BPE tokenizers (GPT-2, Qwen2/2.5/3, Qwen3-VL, Llama 3 style).",
    },
  );
}

function str(c: ComponentJson, key: string, where: string): string {
  const v = c[key];
  if (typeof v !== "string") {
    throw new CheckpointError(`tokenizer.json: ${where}.${key} must be a string (got ${JSON.stringify(v)}).`, {
      hint: "The tokenizer.json is corrupt; download it again.",
    });
  }
  return v;
}

function patternRegex(c: ComponentJson, where: string): RegExp {
  const p = c.pattern as { Regex?: unknown; String?: unknown } | undefined;
  if (p && typeof p.Regex === "string") return translateRegex(p.Regex);
  if (p && typeof p.String === "string") return literalRegex(p.String);
  throw new CheckpointError(`tokenizer.json: ${where}.pattern must be {"Regex": …} or {"String": …}.`, {
    hint: "The tokenizer.json is corrupt; download it again.",
  });
}

/**
 * The normalizer of `tokenizer.json` (`null` → identity).
 *
 * @example
 * ```ts
 * import { buildNormalizer } from "./pipeline.ts";
 * buildNormalizer({ type: "NFC" })("e\u0301") === "\u00e9"; // true
 * ```
 */
export function buildNormalizer(c: ComponentJson | null | undefined, where = "normalizer"): Normalizer {
  if (!c) return (s) => s;
  switch (c.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = c.type;
      return (s) => s.normalize(form);
    }
    case "Lowercase":
      return (s) => s.toLowerCase();
    case "Prepend": {
      const p = str(c, "prepend", where);
      return (s) => (s === "" ? s : p + s);
    }
    case "Replace": {
      const re = patternRegex(c, where);
      const content = str(c, "content", where);
      return (s) => s.replace(re, () => content);
    }
    case "Strip": {
      const left = c.strip_left !== false;
      const right = c.strip_right !== false;
      return (s) => {
        let t = s;
        if (left) t = t.replace(/^\s+/u, "");
        if (right) t = t.replace(/\s+$/u, "");
        return t;
      };
    }
    case "Sequence": {
      const list = (c.normalizers ?? []) as ComponentJson[];
      const fns = list.map((n, i) => buildNormalizer(n, `${where}.normalizers[${i}]`));
      return (s) => fns.reduce((acc, f) => f(acc), s);
    }
    default:
      return unsupported(where, c.type);
  }
}

type Behavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/**
 * Splits one piece by a regex the way `Split` does (tokenizers `split_with_behavior`).
 *
 * @example
 * ```ts
 * import { splitPiece } from "./pipeline.ts";
 * splitPiece("a-b", /-/gu, "MergedWithPrevious"); // ["a-", "b"]
 * ```
 */
export function splitPiece(text: string, re: RegExp, behavior: Behavior, invert = false): string[] {
  // (start, end, isMatch) spans covering the text.
  const spans: [number, number, boolean][] = [];
  let prev = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (end === start) {
      re.lastIndex = start + (text.codePointAt(start)! > 0xffff ? 2 : 1);
      if (start >= text.length) break;
      continue;
    }
    if (prev !== start) spans.push([prev, start, false]);
    spans.push([start, end, true]);
    prev = end;
  }
  if (prev !== text.length) spans.push([prev, text.length, false]);
  if (invert) { for (const s of spans) s[2] = !s[2]; }

  const out: string[] = [];
  switch (behavior) {
    case "Removed":
      for (const [a, b, m] of spans) if (!m) out.push(text.slice(a, b));
      break;
    case "Isolated":
      for (const [a, b] of spans) out.push(text.slice(a, b));
      break;
    case "MergedWithPrevious": {
      let prevMatch = false;
      for (const [a, b, m] of spans) {
        if (m && !prevMatch && out.length) out[out.length - 1] += text.slice(a, b);
        else out.push(text.slice(a, b));
        prevMatch = m;
      }
      break;
    }
    case "MergedWithNext": {
      let prevMatch = false;
      const rev: string[] = [];
      for (let i = spans.length - 1; i >= 0; i--) {
        const [a, b, m] = spans[i];
        if (m && !prevMatch && rev.length) rev[rev.length - 1] = text.slice(a, b) + rev[rev.length - 1];
        else rev.push(text.slice(a, b));
        prevMatch = m;
      }
      out.push(...rev.reverse());
      break;
    }
    case "Contiguous": {
      let prevMatch = false;
      for (const [a, b, m] of spans) {
        if (m && prevMatch && out.length) out[out.length - 1] += text.slice(a, b);
        else out.push(text.slice(a, b));
        prevMatch = m;
      }
      break;
    }
  }
  return out.filter((s) => s !== "");
}

const ENC = new TextEncoder();

/**
 * The pre-tokenizer of `tokenizer.json` (`null` → the whole piece is one word).
 *
 * @example
 * ```ts
 * import { buildPreTokenizer } from "./pipeline.ts";
 * const pre = buildPreTokenizer({ type: "Split", pattern: { Regex: "\\s+" }, behavior: "Removed", invert: false });
 * pre(["a  b"]); // ["a", "b"]
 * ```
 */
export function buildPreTokenizer(c: ComponentJson | null | undefined, where = "pre_tokenizer"): PreTokenizer {
  if (!c) return (pieces) => pieces.filter((p) => p !== "");
  switch (c.type) {
    case "Split": {
      const re = patternRegex(c, where);
      const behavior = str(c, "behavior", where);
      if (!["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"].includes(behavior)) {
        return unsupported(`${where}.behavior`, behavior);
      }
      const invert = c.invert === true;
      return (pieces) => pieces.flatMap((p) => splitPiece(p, re, behavior as Behavior, invert));
    }
    case "ByteLevel": {
      const addPrefix = c.add_prefix_space === true;
      const re = c.use_regex === false ? undefined : translateRegex(GPT2_PATTERN);
      return (pieces) =>
        pieces.flatMap((p) => {
          const text = addPrefix && !p.startsWith(" ") ? " " + p : p;
          const parts = re ? splitPiece(text, re, "Isolated") : [text];
          return parts.filter((s) => s !== "").map((s) => bytesToByteLevel(ENC.encode(s)));
        });
    }
    case "Sequence": {
      const list = (c.pretokenizers ?? []) as ComponentJson[];
      const fns = list.map((n, i) => buildPreTokenizer(n, `${where}.pretokenizers[${i}]`));
      return (pieces) => fns.reduce((acc, f) => f(acc), pieces);
    }
    default:
      return unsupported(where, c.type);
  }
}

/**
 * Bytes of one token for the ByteLevel decoder: its byte-level bytes, else its own UTF-8.
 *
 * @example
 * ```ts
 * import { tokenBytes } from "./pipeline.ts";
 * tokenBytes("Ġa"); // Uint8Array [32, 97]
 * ```
 */
export function tokenBytes(token: string): Uint8Array {
  return byteLevelToBytes(token) ?? ENC.encode(token);
}

/**
 * The decoder of `tokenizer.json`. Only byte-level decoding is supported (the BPE
 * tokenizers of Qwen and Llama 3); `null` joins the tokens' UTF-8 bytes as they are.
 *
 * @example
 * ```ts
 * import { buildDecoder } from "./pipeline.ts";
 * new TextDecoder().decode(buildDecoder({ type: "ByteLevel" })(["Hi", "Ġthere"])); // "Hi there"
 * ```
 */
export function buildDecoder(c: ComponentJson | null | undefined, where = "decoder"): Decoder {
  const concat = (parts: Uint8Array[]) => {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  if (!c) return (tokens) => concat(tokens.map((t) => ENC.encode(t)));
  switch (c.type) {
    case "ByteLevel": {
      // Token strings come from a fixed vocabulary: remember each one's bytes.
      const memo = new Map<string, Uint8Array>();
      const bytesOf = (t: string) => {
        let b = memo.get(t);
        if (!b) memo.set(t, b = tokenBytes(t));
        return b;
      };
      return (tokens) => concat(tokens.map(bytesOf));
    }
    case "Sequence": {
      const list = (c.decoders ?? []) as ComponentJson[];
      if (list.length === 1) return buildDecoder(list[0], `${where}.decoders[0]`);
      return unsupported(where, "Sequence of several decoders");
    }
    default:
      return unsupported(where, c.type);
  }
}
