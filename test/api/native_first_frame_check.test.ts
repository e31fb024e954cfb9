// The first-frame check of a two-pass text-to-video (cosmos-ts.json `first_frame_check`, src/api/first_frame_check.ts):
// the mini Reasoner (checkpoints/mini-reasoner, trained by this project) keeps a world's true first frame, where the
// prompt's subject is drawn once, and refuses frames without its colour or with it twice; generate() on the tiny
// Generator fixture draws its candidates with seeds seed, seed + 1, … and keeps the one the check would pick made by
// hand (pass 1 and the Reasoner run by hand, frame for frame), then runs pass 2 from it with its seed; a
// `first_frame_check` that is not usable is a CheckpointError naming the field and what is allowed.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pushSamples } from "../../bench/mini_generator_eval.ts";
import { judgeFirstFrame } from "../../src/api/first_frame_check.ts";
import { generate } from "../../src/api/generate.ts";
import { pixelsToFrame } from "../../src/api/native_generate.ts";
import { CheckpointError } from "../../src/errors.ts";
import { generateRun, generatorInputs, planGeneration } from "../../src/generator/mod.ts";
import { writeImage } from "../../src/media/images.ts";
import { openCosmos3Generator } from "../../src/native/generator.ts";
import { GenerateRequest } from "../../src/schema/generate_request.ts";
import type { BackendSpec } from "../../src/schema/results.ts";
import { eventSubjects, generatorPrompt, objectPlaces, PLACE_BOUNDS, renderClip } from "../../src/world/mod.ts";
import { shown } from "../kernel/_sink.ts";
import { assertSameFrames, nativeGeneratorFixture } from "./_native_generator_fixture.ts";

const MINI_REASONER = fileURLToPath(new URL("../../checkpoints/mini-reasoner", import.meta.url));
const REASONER: BackendSpec = { kind: "native", checkpoint: MINI_REASONER };
const { OUT, withNotes: fixtureWithNotes } = nativeGeneratorFixture("cosmos-native-ffc-", "cosmos3-tiny");

describe("the first-frame check: the mini Reasoner on world frames", () => {
  test("keeps true first frames; refuses a frame of another scene without the subject's colour", async () => {
    const samples = pushSamples(6, 0).map((p) => p.sample);
    let refused = 0;
    for (const s of samples) {
      const prompt = generatorPrompt(s);
      const subject = eventSubjects(prompt)[0];
      const frame = renderClip(s, undefined, [0]).frames[0];
      const own = await judgeFirstFrame(frame, prompt, REASONER);
      assert.deepEqual(own.subjects, [subject.label]);
      assert.ok(own.accepted, `seed ${s.seed}: the true first frame of "${prompt}" refused: located ${own.located}`);
      assert.equal(own.located.filter((l) => l.startsWith(`${subject.color} `)).length, 1);
      // another sample's first frame with no object of the subject's colour
      const other = samples.find((o) => o.scene.objects.every((x) => x.color !== subject.color));
      if (!other) continue;
      const v = await judgeFirstFrame(renderClip(other, undefined, [0]).frames[0], prompt, REASONER);
      assert.equal(v.accepted, false, `seed ${s.seed}: a frame without ${subject.color} kept: located ${v.located}`);
      refused++;
    }
    assert.ok(refused >= 3, `only ${refused} frames without the subject's colour tried`);
  });

  test("places: a prompt that says where the subject stands: its box must be in that column", async () => {
    const COLUMN_WORDS = { left: "on the left", middle: "in the middle", right: "on the right" } as const;
    const OTHER = { left: "right", middle: "left", right: "left" } as const;
    let judged = 0;
    for (const { sample: s } of pushSamples(16, 0)) {
      const prompt = generatorPrompt(s, { layout: true });
      const subject = eventSubjects(prompt)[0];
      const i = s.scene.objects.findIndex((o) => o.label === subject.label);
      const clip = renderClip(s, undefined, [0]);
      const box = clip.views[0][i].box;
      if (!box) continue;
      const u = (box[0] + box[2]) / 2 / clip.frames[0].width;
      // objects whose drawn centre is clear of a column bound (the words are the projected centre's)
      if ([PLACE_BOUNDS.left, PLACE_BOUNDS.right].some((b) => Math.abs(u - b) < 0.06)) continue;
      const across = objectPlaces(s)[i].across;
      const own = await judgeFirstFrame(clip.frames[0], prompt, REASONER, { places: true });
      assert.ok(own.accepted && own.found, `seed ${s.seed}: "${prompt}" refused: located ${own.located}`);
      assert.deepEqual(own.misplaced, []);
      // the same frame, the prompt moving the subject to another column: found, but not accepted
      const moved = prompt.replace(
        `${subject.label} ${COLUMN_WORDS[across]}`,
        `${subject.label} ${COLUMN_WORDS[OTHER[across]]}`,
      );
      assert.notEqual(moved, prompt);
      const v = await judgeFirstFrame(clip.frames[0], moved, REASONER, { places: true });
      assert.deepEqual({ accepted: v.accepted, found: v.found, misplaced: v.misplaced }, {
        accepted: false,
        found: true,
        misplaced: [subject.label],
      }, `seed ${s.seed}: "${moved}"`);
      // without places (the default) the column is not compared
      const plain = await judgeFirstFrame(clip.frames[0], moved, REASONER);
      assert.deepEqual([plain.accepted, plain.misplaced], [true, []], `seed ${s.seed}: "${moved}" without places`);
      judged++;
    }
    assert.ok(judged >= 6, `only ${judged} subjects clear of a column bound`);
  });

  test("a prompt whose events name no object needs no Reasoner call", async () => {
    const frame = { data: new Uint8Array(8 * 8 * 3), width: 8, height: 8, channels: 3 as const };
    const v = await judgeFirstFrame(frame, "Waves at dusk.", { kind: "native", checkpoint: "/nonexistent" });
    assert.deepEqual(v, { accepted: true, found: true, misplaced: [], subjects: [], located: [] });
  });
});

describe("generate(): text-to-video with a first-frame check (tiny fixture + mini Reasoner)", () => {
  const REQUEST = {
    prompt: "A wooden table with a red cube, a grey robot arm above it. The red cube slides to the left.",
    resolution: "256p",
    numFrames: 5,
    fps: 16,
    numInferenceSteps: 2,
  } as const;

  test("candidates with seeds seed, seed + 1, …; the one the check picks by hand; pass 2 from it", async () => {
    const dir = fixtureWithNotes("checked", {
      untrained: true,
      text_to_video: "first_frame_anchored",
      first_frame_check: { reasoner: MINI_REASONER, candidates: 3 },
    });
    const seed = 40;
    const r = await generate({ ...REQUEST, seed, outputPath: join(OUT, "checked.mp4") }, { backend: dir });
    const c = r.firstFrameCheck;
    assert.ok(c, "firstFrameCheck is set");
    assert.equal(r.seed, seed);
    assert.deepEqual(c.subjects, ["red cube"]);
    // By hand: pass 1 at seeds 40, 41, 42, each frame judged; the first kept, or candidate 0 when none is.
    const s = await openCosmos3Generator(dir);
    const plan = planGeneration(generateRun(GenerateRequest.parse({ ...REQUEST, seed })), s.model);
    const frames = [];
    const verdicts = [];
    for (let k = 0; k < 3; k++) {
      const out = await s.run({ plan, inputs: generatorInputs(plan, s.tokenizer, s.model), seed: seed + k });
      frames.push(pixelsToFrame(out.video!, 0, out.frames, out.height, out.width));
      verdicts.push(await judgeFirstFrame(frames[k], REQUEST.prompt, REASONER));
    }
    // By hand: the first accepted; else the first with the subject found (in another place); else candidate 0.
    const first = verdicts.findIndex((v) => v.accepted);
    const chosen = first >= 0 ? first : Math.max(verdicts.findIndex((v) => v.found), 0);
    assert.equal(c.chosen, chosen);
    assert.equal(c.accepted, first >= 0);
    assert.equal(c.found, verdicts[chosen].found);
    assert.equal(c.candidates, first >= 0 ? first + 1 : 3);
    assert.equal(c.seed, seed + chosen);
    assert.deepEqual(c.located, verdicts[chosen].located);
    // Pass 2 is image-to-video from the kept frame with its seed.
    const png = join(OUT, "kept.png");
    await writeImage(frames[chosen], png);
    const byHand = await generate({ ...REQUEST, image: png, seed: seed + chosen, outputPath: join(OUT, "kept.mp4") }, {
      backend: dir,
    });
    await assertSameFrames(r.media.path, byHand.media.path, [0, 1, 2, 3, 4]);
    // show() says how many first frames were drawn and which was kept.
    const { html } = await shown(r);
    const drawn = c.candidates === 1 ? "1 first frame drawn" : `${c.candidates} first frames drawn`;
    assert.ok(html.includes(drawn), html);
    assert.ok(
      html.includes(c.accepted ? `red cube in number ${chosen + 1}` : "red cube in none, the first kept"),
      html,
    );
    // a frame kept with its object in another place than the prompt's says so
    const misplaced = await shown({
      ...r,
      firstFrameCheck: { ...c, accepted: false, found: true, chosen: 1, misplaced: ["red cube"] },
    });
    assert.ok(
      misplaced.html.includes("red cube where the prompt says in none; number 2 kept, the red cube in another place"),
      misplaced.html,
    );
  });

  test("count_colors: each candidate is also asked for every object of the subject's colour; kept as judged by hand", async () => {
    const dir = fixtureWithNotes("counted", {
      untrained: true,
      text_to_video: "first_frame_anchored",
      first_frame_check: { reasoner: MINI_REASONER, candidates: 2, count_colors: true },
    });
    const seed = 52;
    const r = await generate({ ...REQUEST, seed, outputPath: join(OUT, "counted.mp4") }, { backend: dir });
    const c = r.firstFrameCheck;
    assert.ok(c?.byColor, "byColor is set");
    const s = await openCosmos3Generator(dir);
    const plan = planGeneration(generateRun(GenerateRequest.parse({ ...REQUEST, seed })), s.model);
    const verdicts = [];
    for (let k = 0; k < 2; k++) {
      const out = await s.run({ plan, inputs: generatorInputs(plan, s.tokenizer, s.model), seed: seed + k });
      const frame = pixelsToFrame(out.video!, 0, out.frames, out.height, out.width);
      const v = await judgeFirstFrame(frame, REQUEST.prompt, REASONER, { countColors: true });
      // the rule: "red" once among the distinct labels of "every object", and one red box for "every red object"
      assert.deepEqual(v.byColor?.map((b) => b.color), ["red"]);
      const reds = (labels: string[]) => labels.filter((l) => l.toLowerCase().startsWith("red ")).length;
      const want = reds([...new Set(v.located)]) === 1 && v.byColor![0].located.length === 1 &&
        reds(v.byColor![0].located) === 1;
      assert.equal(v.accepted, want, JSON.stringify(v));
      verdicts.push(v);
    }
    const chosen = Math.max(verdicts.findIndex((v) => v.accepted), 0);
    assert.equal(c.chosen, chosen);
    assert.equal(c.accepted, verdicts[chosen].accepted);
    assert.deepEqual(c.byColor, verdicts[chosen].byColor);
    assert.deepEqual(c.located, verdicts[chosen].located);
  });

  test("a first_frame_check that cannot be used is a CheckpointError naming the field and the allowed values", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["direct", { first_frame_check: { reasoner: MINI_REASONER, candidates: 2 } }, /needs a two-pass text_to_video/],
      [
        "zero",
        { text_to_video: "first_frame_anchored", first_frame_check: { reasoner: MINI_REASONER, candidates: 0 } },
        /candidates 0 is not an integer from 1 to 8/,
      ],
      [
        "many",
        { text_to_video: "first_frame_anchored", first_frame_check: { reasoner: MINI_REASONER, candidates: 9 } },
        /from 1 to 8/,
      ],
      ["text", {
        text_to_video: "first_frame_anchored",
        first_frame_check: { reasoner: MINI_REASONER, candidates: "3" },
      }, /candidates "3"/],
      ["list", { text_to_video: "first_frame_anchored", first_frame_check: [MINI_REASONER] }, /is not an object/],
      ["count", {
        text_to_video: "first_frame_anchored",
        first_frame_check: { reasoner: MINI_REASONER, candidates: 2, count_colors: "yes" },
      }, /count_colors "yes" is not true or false/],
      ["places", {
        text_to_video: "first_frame_anchored",
        first_frame_check: { reasoner: MINI_REASONER, candidates: 2, places: 1 },
      }, /places 1 is not true or false/],
      ["nowhere", {
        text_to_video: "first_frame_anchored",
        first_frame_check: { reasoner: "../no-such-reasoner", candidates: 2 },
      }, /no Reasoner checkpoint at .*no-such-reasoner/],
    ];
    for (const [name, notes, message] of cases) {
      const dir = fixtureWithNotes(`bad_${name}`, notes);
      await assert.rejects(
        generate({ ...REQUEST, numInferenceSteps: 1 }, { backend: dir }),
        (e: unknown) => e instanceof CheckpointError && /first_frame_check/.test(e.message) && message.test(e.message),
        name,
      );
    }
  });
});
