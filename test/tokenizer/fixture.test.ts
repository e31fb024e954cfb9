// The tokenizer against transformers' references (test/fixtures/qwen3vl-tiny-reference.json):
// ids, token strings and decoded text of every case, and the input_ids of every templated prompt.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizer/mod.ts";
import { CHECKPOINT_DIR, REF } from "./_fixture.ts";

let tok: Tokenizer;
before(async () => {
  tok = await loadTokenizer(CHECKPOINT_DIR);
});

describe(`tokenizer vs transformers ${REF.transformers}: tokenizer.cases`, () => {
  for (const c of REF.tokenizer.cases) {
    const name = JSON.stringify(c.text).slice(0, 60);
    test(`encode ${name}`, () => {
      assert.deepEqual(tok.encode(c.text), c.ids);
      assert.deepEqual(tok.tokenize(c.text), c.tokens);
    });
    test(`decode ${name}`, () => {
      assert.equal(tok.decode(c.ids), c.decoded);
      assert.equal(tok.decode(c.ids, { skipSpecial: true }), c.decoded_skip_special);
    });
    test(`stream-decode ${name} equals decode`, () => {
      for (const skipSpecial of [false, true]) {
        const s = tok.streamDecoder({ skipSpecial });
        const parts = c.ids.map((id) => s.push(id));
        parts.push(s.flush());
        assert.equal(parts.join(""), skipSpecial ? c.decoded_skip_special : c.decoded);
        for (const p of parts) {
          assert.ok(!p.includes("\uFFFD"), `a streamed chunk has U+FFFD: ${JSON.stringify(parts)}`);
        }
      }
    });
  }
});

describe("tokenizer vs transformers: templated prompts", () => {
  const prompts = [
    ...REF.text_prompts.map((p, i) => ({ name: `text_prompts[${i}]`, text: p.text, ids: p.input_ids! })),
    ...REF.template_cases.map((p, i) => ({ name: `template_cases[${i}]`, text: p.text, ids: p.input_ids! })),
    { name: "image.expanded_text", text: REF.image.expanded_text, ids: REF.image.input_ids },
    { name: "video.expanded_text", text: REF.video.expanded_text, ids: REF.video.input_ids },
  ];
  for (const p of prompts) {
    test(`${p.name}: encode(text) = input_ids, decode(input_ids) = text`, () => {
      assert.deepEqual(tok.encode(p.text), p.ids);
      assert.equal(tok.decode(p.ids), p.text);
    });
  }
});

describe("tokenizer vocabulary vs transformers", () => {
  test("len(tokenizer), added token ids and special flags", () => {
    assert.equal(tok.vocabSize, REF.tokenizer.vocab_size);
    for (const [content, id] of Object.entries(REF.tokenizer.added_tokens)) {
      assert.equal(tok.tokenToId(content), id, content);
      assert.equal(tok.idToToken(id), content);
      assert.equal(tok.isSpecial(id), REF.tokenizer.special[content], content);
    }
  });
  test("tokenizer_config.json roles: eos <|im_end|>, pad <|endoftext|>, no bos", () => {
    assert.equal(tok.eosTokenId, REF.tokenizer.added_tokens["<|im_end|>"]);
    assert.equal(tok.padTokenId, REF.tokenizer.added_tokens["<|endoftext|>"]);
    assert.equal(tok.bosTokenId, undefined);
  });
  test("idToToken / tokenToId of vocab tokens agree with the fixture's token strings", () => {
    for (const c of REF.tokenizer.cases) {
      c.ids.forEach((id, i) => {
        assert.equal(tok.idToToken(id), c.tokens[i]);
        assert.equal(tok.tokenToId(c.tokens[i]), id);
      });
    }
    assert.equal(tok.idToToken(999_999), undefined);
    assert.equal(tok.tokenToId("not a token"), undefined);
  });
});
