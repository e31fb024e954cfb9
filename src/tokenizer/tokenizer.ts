/**
 * A byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json`, matching
 * huggingface/tokenizers (and so transformers' `tokenizer(text).input_ids` / `decode`):
 *
 * 1. added tokens are split out first: those with `normalized: false` (all special tokens)
 *    on the raw text, leftmost-longest, honouring `lstrip`, `rstrip` and `single_word`;
 * 2. the rest is normalized (e.g. NFC) and the `normalized: true` added tokens split out;
 * 3. each remaining piece is pre-tokenized (Split regex, ByteLevel) into words;
 * 4. each word goes through the BPE merges (cached per word);
 * 5. the post-processor may add template tokens (`TemplateProcessing`; ByteLevel adds none).
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./tokenizer.ts";
 * const tok = await loadTokenizer("test/fixtures/qwen3vl-tiny");
 * const ids = tok.encode("<|im_start|>user\nHi<|im_end|>");
 * tok.decode(ids, { skipSpecial: true }); // "user\nHi"
 * ```
 * @module
 */
import { join } from "node:path";
import { readJsonFile } from "../checkpoint/json.ts";
import { CheckpointError } from "../errors.ts";
import { BpeModel } from "./bpe.ts";
import {
  buildDecoder,
  buildNormalizer,
  buildPreTokenizer,
  type Decoder,
  type Normalizer,
  type PreTokenizer,
} from "./pipeline.ts";
import { type AddedTokenJson, type ComponentJson, TokenizerConfigJson, TokenizerJson } from "./schema.ts";
import { Utf8Stream } from "./stream.ts";

/** An added token (special or not) as `tokenizer.json` declares it. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  normalized: boolean;
}

/** Options of {@link Tokenizer.encode}. */
export interface TokenizerEncodeOptions {
  /** Add the post-processor's template tokens (e.g. a BOS). Default true, like transformers. */
  addSpecialTokens?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface TokenizerDecodeOptions {
  /** Leave out special added tokens (`special: true`). Default false. */
  skipSpecial?: boolean;
  /** transformers' `clean_up_tokenization` (" ." → "." …). Default: tokenizer_config.json's value, else false. */
  cleanUpSpaces?: boolean;
}

/** Token strings of the tokenizer_config.json special roles, when given. */
export interface SpecialTokenNames {
  bos?: string;
  eos?: string;
  pad?: string;
  unk?: string;
}

const WHITESPACE = /\p{White_Space}/u;
const ALNUM = /[\p{Alphabetic}\p{N}]/u;

type Piece = { text: string; id?: undefined } | { id: number; text?: undefined };

interface Matcher {
  re: RegExp;
  byContent: Map<string, AddedToken>;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function buildMatcher(tokens: AddedToken[], normalize: Normalizer): Matcher | undefined {
  if (tokens.length === 0) return undefined;
  const byContent = new Map<string, AddedToken>();
  for (const t of tokens) {
    const key = t.normalized ? normalize(t.content) : t.content;
    if (key !== "" && !byContent.has(key)) byContent.set(key, t);
  }
  const alts = [...byContent.keys()].sort((a, b) => b.length - a.length).map(escapeRegex);
  return { re: new RegExp(alts.join("|"), "gu"), byContent };
}

/** tokenizers' `AddedVocabulary::find_matches` + `split_with_indices` on one piece. */
function splitAdded(text: string, m: Matcher): Piece[] {
  const out: Piece[] = [];
  let offset = 0;
  m.re.lastIndex = 0;
  for (let hit = m.re.exec(text); hit; hit = m.re.exec(text)) {
    let start = hit.index;
    let stop = start + hit[0].length;
    const tok = m.byContent.get(hit[0])!;
    if (tok.singleWord) {
      const before = [...text.slice(0, start)].pop();
      const after = text.slice(stop).codePointAt(0);
      const startOk = before === undefined || !ALNUM.test(before);
      const stopOk = after === undefined || !ALNUM.test(String.fromCodePoint(after));
      if (!startOk || !stopOk) continue;
    }
    if (tok.lstrip) {
      let s = start;
      while (s > offset && WHITESPACE.test(text[s - 1])) s--;
      start = s;
    }
    if (tok.rstrip) {
      while (stop < text.length && WHITESPACE.test(text[stop])) stop++;
      m.re.lastIndex = stop;
    }
    if (offset < start) out.push({ text: text.slice(offset, start) });
    out.push({ id: tok.id });
    offset = stop;
  }
  if (offset < text.length) out.push({ text: text.slice(offset) });
  return out;
}

type PostProcessor = (ids: number[]) => number[];

function buildPostProcessor(c: ComponentJson | null | undefined, where = "post_processor"): PostProcessor {
  if (!c || c.type === "ByteLevel") return (ids) => ids;
  if (c.type === "Sequence") {
    const list = (c.processors ?? []) as ComponentJson[];
    const fns = list.map((p, i) => buildPostProcessor(p, `${where}.processors[${i}]`));
    return (ids) => fns.reduce((acc, f) => f(acc), ids);
  }
  if (c.type === "TemplateProcessing") {
    const single = (c.single ?? []) as Array<{ SpecialToken?: { id: string }; Sequence?: { id: string } }>;
    const specials = (c.special_tokens ?? {}) as Record<string, { ids: number[] }>;
    return (ids) =>
      single.flatMap((part) => {
        if (part.Sequence) return ids;
        const name = part.SpecialToken?.id ?? "";
        const sp = specials[name];
        if (!sp) {
          throw new CheckpointError(`tokenizer.json: ${where}.special_tokens has no ${JSON.stringify(name)}.`, {
            hint: "The tokenizer.json is corrupt; download it again.",
          });
        }
        return sp.ids;
      });
  }
  throw new CheckpointError(
    `tokenizer.json: ${where} type ${JSON.stringify(c.type)} is not supported by the cosmos-ts tokenizer.`,
    {
      hint: "Supported post-processors: ByteLevel, TemplateProcessing, Sequence of those.",
    },
  );
}

function tokenName(v: TokenizerConfigJson["eos_token"]): string | undefined {
  if (!v) return undefined;
  return typeof v === "string" ? v : v.content;
}

/** transformers' `clean_up_tokenization`. */
function cleanUp(s: string): string {
  return s.replaceAll(" .", ".").replaceAll(" ?", "?").replaceAll(" !", "!").replaceAll(" ,", ",")
    .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
}

/**
 * Incremental decoder made by {@link Tokenizer.streamDecoder}: `push(id)` returns the text that
 * became complete, `flush()` the rest.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./tokenizer.ts";
 * const tok = await loadTokenizer("test/fixtures/qwen3vl-tiny");
 * const s = tok.streamDecoder();
 * const text = tok.encode("日本").map((id) => s.push(id)).join("") + s.flush(); // "日本"
 * ```
 */
export interface StreamDecoder {
  /** Adds one token id; returns the newly completed text (often ""). */
  push(id: number): string;
  /** Returns the text still held back (incomplete UTF-8 becomes U+FFFD) and resets. */
  flush(): string;
}

/**
 * A loaded byte-level BPE tokenizer (see the module docs). Build it with {@link loadTokenizer}
 * or {@link Tokenizer.fromJSON}.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./tokenizer.ts";
 * const tok = await loadTokenizer("test/fixtures/qwen3vl-tiny");
 * tok.tokenToId("<|im_end|>"); // 1402
 * tok.idToToken(1402); // "<|im_end|>"
 * tok.isSpecial(1402); // true
 * ```
 */
export class Tokenizer {
  /** The BPE model (vocab and merges). */
  readonly model: BpeModel;
  /** Every added token, by id. */
  readonly addedTokens: ReadonlyMap<number, AddedToken>;
  /** Ids of the added tokens marked `special` (left out by `decode(…, { skipSpecial: true })`). */
  readonly specialIds: ReadonlySet<number>;
  /** tokenizer_config.json's bos/eos/pad/unk token strings (when loaded with it). */
  readonly specialTokens: SpecialTokenNames;
  readonly #addedByContent = new Map<string, AddedToken>();
  readonly #normalize: Normalizer;
  readonly #preTokenize: PreTokenizer;
  readonly #decode: Decoder;
  readonly #post: PostProcessor;
  readonly #raw?: Matcher;
  readonly #normalized?: Matcher;
  readonly #cleanUp: boolean;

  private constructor(json: TokenizerJson, config?: TokenizerConfigJson) {
    if (json.model.type !== undefined && json.model.type !== "BPE") {
      throw new CheckpointError(`tokenizer.json: model.type ${JSON.stringify(json.model.type)} is not supported.`, {
        hint: "Only BPE tokenizers (byte-level: GPT-2, Qwen, Llama 3 style) are supported.",
      });
    }
    this.model = new BpeModel(json.model);
    this.#normalize = buildNormalizer(json.normalizer);
    this.#preTokenize = buildPreTokenizer(json.pre_tokenizer);
    this.#decode = buildDecoder(json.decoder);
    this.#post = buildPostProcessor(json.post_processor);
    const added = new Map<number, AddedToken>();
    for (const t of json.added_tokens as AddedTokenJson[]) {
      const tok: AddedToken = {
        id: t.id,
        content: t.content,
        special: t.special,
        lstrip: t.lstrip,
        rstrip: t.rstrip,
        singleWord: t.single_word,
        normalized: t.normalized ?? !t.special,
      };
      added.set(t.id, tok);
      this.#addedByContent.set(t.content, tok);
    }
    this.addedTokens = added;
    this.specialIds = new Set([...added.values()].filter((t) => t.special).map((t) => t.id));
    const list = [...added.values()];
    this.#raw = buildMatcher(list.filter((t) => !t.normalized), (s) => s);
    this.#normalized = buildMatcher(list.filter((t) => t.normalized), this.#normalize);
    this.specialTokens = {
      bos: tokenName(config?.bos_token),
      eos: tokenName(config?.eos_token),
      pad: tokenName(config?.pad_token),
      unk: tokenName(config?.unk_token),
    };
    this.#cleanUp = config?.clean_up_tokenization_spaces ?? false;
  }

  /**
   * Builds a tokenizer from parsed `tokenizer.json` (and optionally `tokenizer_config.json`).
   *
   * @example
   * ```ts
   * import { Tokenizer } from "./tokenizer.ts";
   * const tok = Tokenizer.fromJSON({
   *   model: { type: "BPE", vocab: { h: 0, i: 1, hi: 2, "Ġ": 3 }, merges: ["h i"] },
   *   pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
   *   decoder: { type: "ByteLevel" },
   * });
   * tok.encode("hi hi"); // [2, 3, 2]
   * ```
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfig?: unknown): Tokenizer {
    const tj = TokenizerJson.safeParse(tokenizerJson);
    if (!tj.success) {
      const issue = tj.error.issues[0];
      throw new CheckpointError(`tokenizer.json: ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
        hint: "Use the tokenizer.json that came with the checkpoint (a Hugging Face 'tokenizers' file).",
      });
    }
    let cfg: TokenizerConfigJson | undefined;
    if (tokenizerConfig !== undefined) {
      const c = TokenizerConfigJson.safeParse(tokenizerConfig);
      if (!c.success) {
        const issue = c.error.issues[0];
        throw new CheckpointError(`tokenizer_config.json: ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
          hint: "Use the tokenizer_config.json that came with the checkpoint.",
        });
      }
      cfg = c.data;
    }
    return new Tokenizer(tj.data, cfg);
  }

  /** Number of ids (the largest id + 1 over the vocab and the added tokens), like `len(tokenizer)`. */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.model.vocabR.keys()) max = Math.max(max, id);
    for (const id of this.addedTokens.keys()) max = Math.max(max, id);
    return max + 1;
  }

  /** Id of the tokenizer_config.json `eos_token`, if any. */
  get eosTokenId(): number | undefined {
    return this.specialTokens.eos === undefined ? undefined : this.tokenToId(this.specialTokens.eos);
  }

  /** Id of the tokenizer_config.json `pad_token`, if any. */
  get padTokenId(): number | undefined {
    return this.specialTokens.pad === undefined ? undefined : this.tokenToId(this.specialTokens.pad);
  }

  /** Id of the tokenizer_config.json `bos_token`, if any. */
  get bosTokenId(): number | undefined {
    return this.specialTokens.bos === undefined ? undefined : this.tokenToId(this.specialTokens.bos);
  }

  /** Id of a token string (added tokens first, then the vocab). */
  tokenToId(token: string): number | undefined {
    return this.#addedByContent.get(token)?.id ?? this.model.vocab.get(token);
  }

  /** Token string of an id (`undefined` when out of range). */
  idToToken(id: number): string | undefined {
    return this.addedTokens.get(id)?.content ?? this.model.vocabR.get(id);
  }

  /** True for added tokens marked `special`. */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Token ids of `text` (transformers: `tokenizer(text).input_ids`). */
  encode(text: string, options: TokenizerEncodeOptions = {}): number[] {
    const ids: number[] = [];
    for (const piece of this.#split(text)) {
      if (piece.id !== undefined) ids.push(piece.id);
      else for (const word of this.#preTokenize([piece.text])) ids.push(...this.model.tokenize(word));
    }
    return options.addSpecialTokens === false ? ids : this.#post(ids);
  }

  /** Token strings of `text` (transformers: `tokenizer.tokenize(text)`, no template tokens). */
  tokenize(text: string): string[] {
    return this.encode(text, { addSpecialTokens: false }).map((id) => this.idToToken(id)!);
  }

  /** Text of `ids` (transformers: `tokenizer.decode(ids, skip_special_tokens)`). Unknown ids are left out. */
  decode(ids: readonly number[], options: TokenizerDecodeOptions = {}): string {
    const tokens: string[] = [];
    for (const id of ids) {
      if (options.skipSpecial && this.specialIds.has(id)) continue;
      const t = this.idToToken(id);
      if (t !== undefined) tokens.push(t);
    }
    const text = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(this.#decode(tokens));
    return options.cleanUpSpaces ?? this.#cleanUp ? cleanUp(text) : text;
  }

  /**
   * A decoder for token streaming that emits text only on complete UTF-8 sequences
   * (see {@link StreamDecoder}).
   */
  streamDecoder(options: { skipSpecial?: boolean } = {}): StreamDecoder {
    const utf8 = new Utf8Stream();
    return {
      push: (id: number) => {
        if (options.skipSpecial && this.specialIds.has(id)) return "";
        const t = this.idToToken(id);
        return t === undefined ? "" : utf8.push(this.#decode([t]));
      },
      flush: () => utf8.flush(),
    };
  }

  /**
   * The bytes each token id in `[0, size)` decodes to, laid end to end: id t's piece is
   * `bytes.subarray(offsets[t], offsets[t + 1])`, exactly what {@link Tokenizer.streamDecoder}
   * feeds its UTF-8 decoder for t (empty for unknown ids, and for special ones with `skipSpecial`).
   * The native token loop matches stop strings on these bytes.
   *
   * @example
   * ```ts
   * import { loadTokenizer } from "./tokenizer.ts";
   * const tok = await loadTokenizer("test/fixtures/qwen3vl-tiny");
   * const { offsets, bytes } = tok.pieceTable(tok.vocabSize, { skipSpecial: true });
   * const id = tok.encode("Hello")[0];
   * new TextDecoder().decode(bytes.subarray(offsets[id], offsets[id + 1])) === tok.decode([id]); // true
   * offsets[1403] === offsets[1402]; // true: <|im_end|> is special, no text
   * ```
   */
  pieceTable(size: number, options: { skipSpecial?: boolean } = {}): { offsets: Int32Array; bytes: Uint8Array } {
    const pieces: Uint8Array[] = [];
    const offsets = new Int32Array(size + 1);
    let total = 0;
    for (let id = 0; id < size; id++) {
      const t = options.skipSpecial && this.specialIds.has(id) ? undefined : this.idToToken(id);
      const piece = t === undefined ? new Uint8Array(0) : this.#decode([t]);
      pieces.push(piece);
      total += piece.length;
      offsets[id + 1] = total;
    }
    const bytes = new Uint8Array(total);
    pieces.forEach((p, id) => bytes.set(p, offsets[id]));
    return { offsets, bytes };
  }

  #split(text: string): Piece[] {
    const first: Piece[] = this.#raw ? splitAdded(text, this.#raw) : [{ text }];
    const out: Piece[] = [];
    for (const p of first) {
      if (p.id !== undefined) {
        out.push(p);
        continue;
      }
      const norm = this.#normalize(p.text);
      if (this.#normalized) out.push(...splitAdded(norm, this.#normalized));
      else if (norm !== "") out.push({ text: norm });
    }
    return out;
  }
}

/**
 * Loads `tokenizer.json` (and `tokenizer_config.json` when present) from a checkpoint folder.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./tokenizer.ts";
 * const tok = await loadTokenizer("test/fixtures/qwen3vl-tiny");
 * tok.encode("Hello world"); // [39, 68, 283, 78, 1075, 367]
 * tok.decode([39, 68, 283, 78, 1075, 367]); // "Hello world"
 * ```
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const tj = await readJsonFile(join(dir, "tokenizer.json"));
  // tokenizer_config.json is optional: tokenizer.json alone is enough.
  const cfg = await readJsonFile(join(dir, "tokenizer_config.json"), true);
  return Tokenizer.fromJSON(tj, cfg);
}
