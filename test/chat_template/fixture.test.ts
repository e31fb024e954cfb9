// Chat templates against transformers' rendered texts (test/fixtures/qwen3vl-tiny-reference.json),
// then the whole text path: template → tokenizer → the reference input_ids.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyChatTemplate, loadChatTemplate } from "../../src/chat_template/mod.ts";
import { CheckpointError, ValidationError } from "../../src/errors.ts";
import { ChatMessages } from "../../src/schema/mod.ts";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizer/mod.ts";
import { CHECKPOINT_DIR, REF } from "../tokenizer/_fixture.ts";

let template: string;
let tok: Tokenizer;
before(async () => {
  template = await loadChatTemplate(CHECKPOINT_DIR);
  tok = await loadTokenizer(CHECKPOINT_DIR);
});

const cases = [
  ...REF.text_prompts.map((p, i) => ({
    name: `text_prompts[${i}]`,
    p,
    gen: p.add_generation_prompt ?? false,
    vid: false,
  })),
  ...REF.template_cases.map((p, i) => ({
    name: `template_cases[${i}]`,
    p,
    gen: p.options?.add_generation_prompt ?? false,
    vid: p.options?.add_vision_id ?? false,
  })),
  { name: "image", p: REF.image, gen: true, vid: false },
  { name: "video", p: REF.video, gen: true, vid: false },
];

describe(`applyChatTemplate vs transformers ${REF.transformers}`, () => {
  for (const c of cases) {
    test(`${c.name}: text`, () => {
      assert.equal(
        applyChatTemplate(template, c.p.messages, { addGenerationPrompt: c.gen, addVisionId: c.vid }),
        c.p.text,
      );
    });
    if (c.p.input_ids && !c.p.expanded_text) {
      test(`${c.name}: encode(applyChatTemplate(messages)) = input_ids`, () => {
        assert.deepEqual(
          tok.encode(applyChatTemplate(template, c.p.messages, { addGenerationPrompt: c.gen, addVisionId: c.vid })),
          c.p.input_ids,
        );
      });
    }
  }
});

describe("applyChatTemplate with cosmos-ts schema messages", () => {
  test("image_url / video_url parts render like the fixture's image / video parts", () => {
    const ref = REF.template_cases.find((c) => c.options?.add_vision_id)!;
    const ours = ChatMessages.parse([{
      role: "user",
      content: [
        { type: "image_url", image_url: "a.png" },
        { type: "image_url", image_url: { url: "https://example.com/b.jpg" } },
        { type: "video_url", video_url: "c.mp4" },
        { type: "text", text: "Compare the pictures with the video." },
      ],
    }]);
    assert.equal(applyChatTemplate(template, ours, { addGenerationPrompt: true, addVisionId: true }), ref.text);
  });

  test("continueFinalMessage ends right after the last message's text", () => {
    const text = applyChatTemplate(template, [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "<think>\nThe" },
    ], { continueFinalMessage: true });
    assert.equal(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nThe");
  });

  test("malformed messages raise ValidationError naming the field", () => {
    assert.throws(
      () => applyChatTemplate(template, [{ content: "no role" }]),
      (e) => e instanceof ValidationError && e.field === "messages.0.role",
    );
    assert.throws(() => applyChatTemplate(template, []), ValidationError);
  });

  test("a template that raises becomes a CheckpointError", () => {
    const t = "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be user') }}{% endif %}ok";
    assert.equal(applyChatTemplate(t, [{ role: "user", content: "x" }]), "ok");
    assert.throws(
      () => applyChatTemplate(t, [{ role: "system", content: "x" }]),
      (e) => e instanceof CheckpointError && /first message must be user/.test(e.message),
    );
  });
});

describe("loadChatTemplate", () => {
  test("falls back to tokenizer_config.json (string and named list) and says what it looked for", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cosmos-ct-"));
    try {
      await assert.rejects(
        loadChatTemplate(dir),
        (e) =>
          e instanceof CheckpointError && /chat_template\.jinja/.test(e.message) &&
          /tokenizer_config\.json/.test(e.message),
      );
      await writeFile(
        join(dir, "tokenizer_config.json"),
        JSON.stringify({ chat_template: "{{ messages[0].content }}" }),
      );
      assert.equal(await loadChatTemplate(dir), "{{ messages[0].content }}");
      await writeFile(
        join(dir, "tokenizer_config.json"),
        JSON.stringify({
          chat_template: [{ name: "default", template: "D" }, { name: "tool_use", template: "T" }],
        }),
      );
      assert.equal(await loadChatTemplate(dir), "D");
      assert.equal(await loadChatTemplate(dir, "tool_use"), "T");
      await assert.rejects(
        loadChatTemplate(dir, "rag"),
        (e) => e instanceof CheckpointError && /default, tool_use/.test(e.message),
      );
      await writeFile(join(dir, "chat_template.json"), JSON.stringify({ chat_template: "J" }));
      assert.equal(await loadChatTemplate(dir), "J");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
