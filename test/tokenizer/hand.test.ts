// Hand cases: round trips of text the fixture does not cover, streaming across split UTF-8
// characters, the regex translation (Oniguruma semantics) and tokenizer.json variants.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CheckpointError } from "../../src/errors.ts";
import { loadTokenizer, Tokenizer, translateRegex, Utf8Stream } from "../../src/tokenizer/mod.ts";
import { CHECKPOINT_DIR } from "./_fixture.ts";

let tok: Tokenizer;
before(async () => {
  tok = await loadTokenizer(CHECKPOINT_DIR);
});

describe("round trip: decode(encode(text)) = NFC(text)", () => {
  const texts = [
    "e\u0301cole, cafe\u0301 and n\u0303 (combining marks)",
    "\u1100\u1161\u11a8 (decomposed Hangul jamo)",
    "🚗🤖👍🏽🇯🇵👨‍👩‍👧 🏳️‍🌈",
    "中文、日本語、한국어 — mixed ＡＢＣ full-width",
    "\u{1D400}\u{1D401} math bold, \u{10348} gothic, 𠀀 CJK ext B",
    "line\u2028sep\u0085nel\u00a0nbsp\ufeffbom\tTAB",
    "IT'S THEY'RE WE'VE I'LL HE'D SHE'S",
    "<|im_start|> <think> </think> <|vision_pad|> inline",
  ];
  for (const t of texts) {
    test(JSON.stringify(t), () => {
      const ids = tok.encode(t);
      assert.equal(tok.decode(ids), t.normalize("NFC"));
    });
  }
});

describe("streaming decode", () => {
  test("a CJK character split across tokens is emitted once, whole, at its last byte", () => {
    // The fixture tokenizes "日本語" as æĹ | ¥æľ | ¬ | è | ª | ŀ: every character spans two tokens or more.
    const ids = tok.encode("日本語");
    assert.ok(ids.length > 3);
    const s = tok.streamDecoder();
    const parts = ids.map((id) => s.push(id));
    assert.equal(parts.join("") + s.flush(), "日本語");
    assert.equal(parts[0], "", "first token holds an incomplete character");
    for (const p of parts) assert.ok(!p.includes("\uFFFD"));
    assert.deepEqual(parts.filter((p) => p !== ""), ["日", "本", "語"]);
  });

  test("an emoji split byte by byte", () => {
    const u = new Utf8Stream();
    const bytes = new TextEncoder().encode("a👍b");
    const out = [...bytes].map((b) => u.push(new Uint8Array([b])));
    assert.deepEqual(out, ["a", "", "", "", "👍", "b"]);
    assert.equal(u.flush(), "");
  });

  test("an unfinished character at the end becomes U+FFFD on flush (like decode)", () => {
    const u = new Utf8Stream();
    assert.equal(u.push(new Uint8Array([0x61, 0xe6, 0x97])), "a");
    assert.equal(u.flush(), new TextDecoder().decode(new Uint8Array([0xe6, 0x97])));
  });

  test("invalid bytes are not held back", () => {
    const u = new Utf8Stream();
    assert.equal(u.push(new Uint8Array([0x80, 0x61])), "\uFFFDa");
  });

  test("stream of every prefix split of a multilingual text equals decode", () => {
    const text = "naïve 🚗 日本語 Дорога <|im_end|>";
    const ids = tok.encode(text);
    const s = tok.streamDecoder({ skipSpecial: true });
    const joined = ids.map((id) => s.push(id)).join("") + s.flush();
    assert.equal(joined, tok.decode(ids, { skipSpecial: true }));
  });
});

describe("regex translation (Oniguruma semantics)", () => {
  test("(?i:...) is case-insensitive only inside the group", () => {
    const re = translateRegex("(?i:'s|'ll)|x");
    assert.deepEqual("'S'Ll'sX x".match(re), ["'S", "'Ll", "'s", "x"]);
  });
  test("\\s is Unicode White_Space: U+0085 yes, U+FEFF no", () => {
    const re = translateRegex("\\s+");
    assert.deepEqual("a\u0085b\ufeffc\u3000".match(re), ["\u0085", "\u3000"]);
  });
  test("negated class with \\s, \\p{L}, \\p{N}", () => {
    const re = translateRegex(" ?[^\\s\\p{L}\\p{N}]+");
    assert.deepEqual("a ?! 1 ...".match(re), [" ?!", " ..."]);
  });
});

function tiny(extra: Record<string, unknown> = {}, merges: unknown = ["h i", "Ġ hi"]): Tokenizer {
  return Tokenizer.fromJSON({
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
    decoder: { type: "ByteLevel" },
    model: { type: "BPE", vocab: { h: 0, i: 1, "Ġ": 2, hi: 3, "Ġhi": 4, "<s>": 5, "[X]": 6 }, merges },
    ...extra,
  });
}

describe("tokenizer.json variants", () => {
  test("merges as [a, b] pairs equal merges as 'a b' strings", () => {
    assert.deepEqual(tiny({}, [["h", "i"], ["Ġ", "hi"]]).encode("hi hi"), tiny().encode("hi hi"));
    assert.deepEqual(tiny().encode("hi hi"), [3, 4]);
  });
  test("ByteLevel add_prefix_space adds one space per piece", () => {
    const t = tiny({ pre_tokenizer: { type: "ByteLevel", add_prefix_space: true, use_regex: true } });
    assert.deepEqual(t.encode("hi"), [4]);
  });
  test("TemplateProcessing adds its tokens unless addSpecialTokens is false", () => {
    const t = tiny({
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        special_tokens: { "<s>": { id: "<s>", ids: [5], tokens: ["<s>"] } },
      },
    });
    assert.deepEqual(t.encode("hi"), [5, 3]);
    assert.deepEqual(t.encode("hi", { addSpecialTokens: false }), [3]);
  });
  test("added token with lstrip/rstrip takes the spaces around it", () => {
    const t = tiny({
      added_tokens: [{
        id: 6,
        content: "[X]",
        lstrip: true,
        rstrip: true,
        normalized: false,
        special: true,
        single_word: false,
      }],
    });
    assert.deepEqual(t.encode("hi [X] hi"), [3, 6, 3]);
    const plain = tiny({
      added_tokens: [{
        id: 6,
        content: "[X]",
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
        single_word: false,
      }],
    });
    assert.deepEqual(plain.encode("hi [X] hi"), [3, 2, 6, 4]);
  });
  test("single_word added tokens only match as whole words", () => {
    const t = tiny({
      added_tokens: [{
        id: 6,
        content: "[X]",
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: false,
        single_word: true,
      }],
      model: {
        type: "BPE",
        vocab: { h: 0, i: 1, "Ġ": 2, hi: 3, "Ġhi": 4, "[": 5, "X": 7, "]": 8, "[X]": 6 },
        merges: ["h i", "Ġ hi"],
      },
    });
    assert.deepEqual(t.encode("[X]"), [6]);
    assert.deepEqual(t.encode("hi[X]"), [3, 5, 7, 8]);
  });
  test("unsupported components and broken merges raise CheckpointError naming the field", () => {
    assert.throws(
      () => tiny({ pre_tokenizer: { type: "Metaspace" } }),
      (e) => e instanceof CheckpointError && /pre_tokenizer.*Metaspace/.test(e.message),
    );
    assert.throws(
      () => tiny({ normalizer: { type: "BertNormalizer" } }),
      (e) => e instanceof CheckpointError && /normalizer/.test(e.message),
    );
    assert.throws(() => tiny({}, ["h q"]), (e) => e instanceof CheckpointError && /merges\[0\]/.test(e.message));
    assert.throws(
      () => Tokenizer.fromJSON({ model: { type: "BPE" } }),
      (e) => e instanceof CheckpointError && /model\.vocab/.test(e.message),
    );
  });
});
