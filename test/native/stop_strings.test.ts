// Stop strings in the native token loop (issue 11 item 3), CPU, tiny Qwen3-VL fixture, on transformers'
// greedy tokens of the reference prompts: the loop ends on the token that completes the first stop
// string (kept in the result) and says where the text ends (textBytes), for a stop string inside one
// token's piece, one spanning tokens, and one that never comes; the session's reply is the text before
// the stop string, streamed without any of it; stopStrings without the piece table is a ValidationError.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ValidationError } from "../../src/errors.ts";
import { closeNative, NativeTextModel, openQwen3VL } from "../../src/native/mod.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { CKPT, reference } from "./_reference.ts";

const ref = reference();
after(() => closeNative());

describe("stop strings in the native token loop", async () => {
  const tok = await loadTokenizer(CKPT);
  const p = ref.text_prompts[0];
  const greedy = p.greedy_ids.slice(0, 32);
  // The greedy output's bytes, and where each token's piece ends (special tokens: no bytes).
  const enc = new TextEncoder();
  const ends: number[] = [];
  let all = new Uint8Array(0);
  for (const id of greedy) {
    const piece = tok.isSpecial(id) ? new Uint8Array(0) : enc.encode(tok.decode([id]));
    const next = new Uint8Array(all.length + piece.length);
    next.set(all);
    next.set(piece, all.length);
    all = next;
    ends.push(all.length);
  }
  const text = new TextDecoder().decode(all);
  assert.equal(text, tok.decode(greedy, { skipSpecial: true }), "pieces are the decoded text");
  /** Tokens up to the one completing the first occurrence of `stop`, and the byte where it starts. */
  const expected = (stop: string) => {
    const at = Buffer.from(all).indexOf(Buffer.from(stop));
    const n = ends.findIndex((e) => e >= at + enc.encode(stop).length) + 1;
    return { at, n };
  };

  test("the model: ends on the completing token (kept), textBytes where the stop string starts", async () => {
    const m = NativeTextModel.load(CKPT);
    try {
      await assert.rejects(m.generate({ ids: p.input_ids, maxTokens: 4, stopStrings: ["x"] }), ValidationError);
      m.reset();
      m.setTokenPieces(tok.pieceTable(m.info().vocabSize!, { skipSpecial: true }));
      // A piece of the middle of the text spanning at least two tokens, and the tail of one token's piece.
      const k = ends.findIndex((e) => e >= 12);
      const span = text.slice(ends[k] - 2, ends[k] + 2);
      const inside = tok.decode([greedy[k + 2]]).slice(-1);
      for (const stop of [span, inside]) {
        const want = expected(stop);
        assert.ok(want.at >= 0 && want.n >= 1);
        m.reset();
        const streamed: number[] = [];
        const r = await m.generate({
          ids: p.input_ids,
          maxTokens: 32,
          stopStrings: ["never in this text", stop],
          onToken: (t) => streamed.push(t),
        });
        assert.equal(r.stopReason, "stop", JSON.stringify(stop));
        assert.deepEqual(r.tokens, greedy.slice(0, want.n), JSON.stringify(stop));
        assert.deepEqual(streamed, r.tokens);
        assert.equal(r.stopString, 1);
        assert.equal(r.textBytes, want.at);
      }
      m.reset();
      const none = await m.generate({ ids: p.input_ids, maxTokens: 32, stopStrings: ["never in this text"] });
      assert.deepEqual(none.tokens, greedy);
      assert.equal(none.stopReason, "length");
      assert.equal(none.textBytes, undefined);
    } finally {
      m.free();
    }
  });

  test("the session: the reply is the text before the stop string; nothing of it is streamed", async () => {
    const s = await openQwen3VL(CKPT);
    const prompt = {
      text: "",
      ids: Int32Array.from(p.input_ids),
      pos3: Int32Array.from([0, 1, 2].flatMap(() => p.input_ids.map((_, i) => i))),
      visual: {},
      imageTokens: 0,
      videoTokens: 0,
      dispose: () => {},
    };
    const stop = text.slice(14, 19);
    const want = expected(stop);
    const pieces: string[] = [];
    const r = await s.generate(prompt, {
      maxTokens: 32,
      sampling: { temperature: 0 },
      stop: [stop],
      onText: (t) => pieces.push(t),
    });
    assert.equal(r.text, text.slice(0, text.indexOf(stop)));
    assert.equal(pieces.join(""), r.text);
    assert.equal(r.finishReason, "stop");
    assert.deepEqual(r.tokens, greedy.slice(0, want.n));
    const full = await s.generate(prompt, {
      maxTokens: 32,
      sampling: { temperature: 0 },
      onText: (t) => pieces.push(t),
    });
    assert.equal(full.text, text);
  });
});
