// The notebook reason() with `miniCheckpoint: true` (the mini Reasoner, checkpoints/mini-reasoner, trained by this
// project on the synthetic world of src/world): the request is sent greedy (temperature 0 unless it sets one) and
// capped at MINI_REASONER_CAPS tokens; notebookBackend() picks the mini Reasoner only when no backend is configured
// and says plainly what it is; on the real native engine a grounding call on a held-out world still gets the note
// under its answer (trained, with the figure) and a workflow it was not trained on gets the "NOT trained" note.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import {
  MINI_CHECKPOINTS,
  MINI_REASONER_CAPS,
  MINI_REASONER_TASKS,
  notebookBackend,
  reason,
  withMiniCheckpointCaps,
} from "../../kernel/calls.ts";
import { DEFAULT_MAX_TOKENS } from "../../src/schema/reason_request.ts";
import { PROMPT_UPSAMPLING_SAMPLING } from "../../src/schema/sampling.ts";
import { closeNative } from "../../src/native/qwen3vl.ts";
import { captureDisplays, str } from "./_sink.ts";

const MINI = fileURLToPath(new URL(`../../${MINI_CHECKPOINTS.reason}`, import.meta.url));
const STILL = fileURLToPath(new URL("../../assets/images/world_tabletop_small.png", import.meta.url));
after(async () => await closeNative());

describe("mini Reasoner caps of the notebook reason()", () => {
  test("greedy unless the request sets a temperature; the token limit lowered to the cap, never raised", () => {
    assert.deepEqual(withMiniCheckpointCaps({ task: "caption", video: "v.mp4" }), {
      task: "caption",
      video: "v.mp4",
      sampling: { temperature: 0 },
      maxTokens: MINI_REASONER_CAPS.maxTokens,
    });
    assert.ok(MINI_REASONER_CAPS.maxTokens < DEFAULT_MAX_TOKENS);
    assert.deepEqual(withMiniCheckpointCaps({ task: "custom", prompt: "p", maxTokens: 20 }).maxTokens, 20);
    // A preset's own temperature and seed stay; its max_tokens becomes the capped maxTokens.
    const upsampled = withMiniCheckpointCaps({ task: "custom", prompt: "p", sampling: PROMPT_UPSAMPLING_SAMPLING });
    assert.equal(upsampled.sampling?.temperature, PROMPT_UPSAMPLING_SAMPLING.temperature);
    assert.equal(upsampled.sampling?.seed, PROMPT_UPSAMPLING_SAMPLING.seed);
    assert.equal(upsampled.sampling?.max_tokens, undefined);
    assert.equal(upsampled.maxTokens, MINI_REASONER_CAPS.maxTokens);
    // Two limits that disagree are left for validation to report.
    const bad = { task: "custom", prompt: "p", maxTokens: 5, sampling: { max_tokens: 6 } } as const;
    assert.equal(withMiniCheckpointCaps(bad), bad);
  });

  test("notebookBackend: the mini Reasoner only when nothing is configured, said plainly", async () => {
    const saved = { r: process.env.COSMOS_REASONER_BACKEND, b: process.env.COSMOS_BACKEND };
    delete process.env.COSMOS_REASONER_BACKEND;
    delete process.env.COSMOS_BACKEND;
    const cap = captureDisplays();
    try {
      const o = await notebookBackend("reason", { fallback: MINI, fallbackIsMiniCheckpoint: true });
      assert.equal(o.miniCheckpoint, true);
      assert.equal(o.tinyCheckpoint, undefined);
      const said = cap.sent.map((m) => str(m.bundle, "text/plain")).join("\n");
      assert.match(said, /a mini model trained by this project on a synthetic world, not Cosmos 3/);
      assert.match(said, /set COSMOS_REASONER_BACKEND to a Cosmos 3 Reasoner checkpoint/);
      process.env.COSMOS_REASONER_BACKEND = "http://127.0.0.1:9/v1";
      const remote = await notebookBackend("reason", { fallback: MINI, fallbackIsMiniCheckpoint: true });
      assert.equal(remote.miniCheckpoint, undefined);
    } finally {
      cap.restore();
      for (const [k, v] of [["COSMOS_REASONER_BACKEND", saved.r], ["COSMOS_BACKEND", saved.b]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test(
    "on the native engine: a trained workflow's note gives its figure, an untrained one's says so",
    { skip: !existsSync(STILL) && "assets not made (node --import tsx assets/make.ts)" },
    async () => {
      const cap = captureDisplays();
      try {
        const r = await reason(
          {
            task: "grounding_2d",
            image: STILL,
            prompt: 'Locate the red cube. Answer as JSON: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}].',
          },
          { backend: MINI, miniCheckpoint: true },
        );
        assert.deepEqual(r.parsed.kind === "boxes" && r.parsed.boxes.map((b) => b.label), ["red cube"], r.answer);
        await reason({ task: "custom", prompt: "Hello." }, { backend: MINI, miniCheckpoint: true });
        const said = cap.sent.map((m) => m.bundle["text/plain"]).filter((t) => typeof t === "string").join("\n");
        assert.ok(said.includes(`trained on grounding_2d in its synthetic world: ${MINI_REASONER_TASKS.grounding_2d}`));
        assert.match(said, /greedy decoding \(temperature 0\), at most 256 tokens/);
        assert.match(said, /The mini Reasoner was NOT trained on custom: this answer is not meaningful/);
      } finally {
        cap.restore();
      }
    },
  );
});
