// generate()'s text-to-video recipes (cosmos-ts.json `text_to_video`, the mini Generator's): on the tiny fixture with
// "first_frame_anchored" noted, text-to-video is exactly image-to-video (the same prompt, settings and seed) from the
// first frame of the plain text-to-video pass — checked frame for frame against that i2v run made by hand from the
// pass-1 frame written as a PNG; with "image_anchored", from the text-to-image of the same prompt, size, settings and
// seed made by hand through generate(); progress says which pass; image-to-video is not touched; a recipe this
// version does not know is a CheckpointError naming the allowed values; show() says the video ran as two passes.
// With "prompt_places": a plain text-to-video prompt runs with places written in (the same frames as that prompt
// on the fixture without the note), reported as upsampledPrompt and by show(), and so does text-to-image;
// image-to-video runs as written.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generate } from "../../src/api/generate.ts";
import { pixelsToFrame } from "../../src/api/native_generate.ts";
import { CheckpointError } from "../../src/errors.ts";
import { generateRun, generatorInputs, planGeneration } from "../../src/generator/mod.ts";
import { writeImage } from "../../src/media/images.ts";
import { decodeVideoFrames } from "../../src/media/video.ts";
import { openCosmos3Generator } from "../../src/native/generator.ts";
import { GenerateRequest } from "../../src/schema/generate_request.ts";
import type { ProgressEvent } from "../../src/schema/results.ts";
import { promptWithPlaces } from "../../src/world/mod.ts";
import { shown } from "../kernel/_sink.ts";
import { assertSameFrames, nativeGeneratorFixture } from "./_native_generator_fixture.ts";

const { CKPT, OUT, withNotes: fixtureWithNotes } = nativeGeneratorFixture("cosmos-native-recipe-", "cosmos3-tiny");

const ANCHORED = fixtureWithNotes("anchored", { untrained: true, text_to_video: "first_frame_anchored" });
const REQUEST = {
  prompt: "A red cube slides left.",
  resolution: "256p",
  numFrames: 5,
  fps: 16,
  numInferenceSteps: 2,
} as const;

describe("generate(): the first_frame_anchored text-to-video recipe (tiny fixture)", () => {
  test("text-to-video is image-to-video from the first frame of the one-pass text-to-video, same seed", async () => {
    const events: ProgressEvent[] = [];
    const r = await generate({ ...REQUEST, seed: 11, outputPath: join(OUT, "anchored.mp4") }, {
      backend: ANCHORED,
      onProgress: (e) => events.push(e),
    });
    assert.equal(r.mode, "text-to-video");
    assert.equal(r.textToVideoRecipe, "first_frame_anchored");
    // By hand: pass 1 as generate() plans it, its decoded frame 0 as a PNG (lossless), then image-to-video from it.
    const s = await openCosmos3Generator(ANCHORED);
    const req = GenerateRequest.parse({ ...REQUEST, seed: 11 });
    const plan = planGeneration(generateRun(req), s.model);
    const out1 = await s.run({ plan, inputs: generatorInputs(plan, s.tokenizer, s.model), seed: 11 });
    const first = join(OUT, "pass1_frame0.png");
    await writeImage(pixelsToFrame(out1.video!, 0, out1.frames, out1.height, out1.width), first);
    const byHand = await generate({ ...REQUEST, image: first, seed: 11, outputPath: join(OUT, "by_hand.mp4") }, {
      backend: ANCHORED,
    });
    assert.equal(byHand.mode, "image-to-video");
    assert.equal(byHand.textToVideoRecipe, undefined, "image-to-video runs its one pass");
    const a = await assertSameFrames(r.media.path, byHand.media.path, [0, 1, 2, 3, 4]);
    // ...and not the one-pass video of the same request (the fixture without the recipe).
    const plain = await generate({ ...REQUEST, seed: 11, outputPath: join(OUT, "plain.mp4") }, { backend: CKPT });
    assert.equal(plain.textToVideoRecipe, undefined);
    const c = await decodeVideoFrames(plain.media.path, { frameIndices: [4] });
    assert.notDeepEqual(c[0].data, a[4].data);
    // Progress: each pass's steps, labelled.
    const denoise = events.filter((e) => e.stage === "denoise");
    assert.deepEqual(denoise.map((e) => `${e.done}/${e.total}`), ["1/2", "2/2", "1/2", "2/2"]);
    assert.match(denoise[0].message ?? "", /^pass 1 of 2, the first frame: step 1\/2/);
    assert.match(denoise[3].message ?? "", /^pass 2 of 2, the video from that frame: step 2\/2/);
  });

  test("image_anchored: image-to-video from the text-to-image of the same prompt, size and seed", async () => {
    const IMAGE = fixtureWithNotes("image_anchored", { untrained: true, text_to_video: "image_anchored" });
    const events: ProgressEvent[] = [];
    const r = await generate({ ...REQUEST, seed: 5, outputPath: join(OUT, "image_anchored.mp4") }, {
      backend: IMAGE,
      onProgress: (e) => events.push(e),
    });
    assert.equal(r.textToVideoRecipe, "image_anchored");
    // By hand: a text-to-image request of the same prompt, seed and the video's settings (text-to-image's own
    // defaults differ: guidance, flow shift, CFG interval), written as a PNG (lossless), then image-to-video.
    const { numFrames: _, fps: __, ...still } = REQUEST;
    const e = GenerateRequest.parse(REQUEST).effective;
    const [lo, hi] = e.guidanceInterval;
    const settings = {
      guidanceScale: e.guidanceScale,
      flowShift: e.flowShift,
      guidanceInterval: [lo, hi] as [number, number],
    };
    const image = await generate(
      { ...still, ...settings, output: "image", seed: 5, outputPath: join(OUT, "t2i.png") },
      { backend: IMAGE },
    );
    assert.equal(image.mode, "text-to-image");
    assert.equal(image.textToVideoRecipe, undefined, "text-to-image runs its one pass");
    assert.deepEqual([image.media.width, image.media.height], [r.media.width, r.media.height]);
    const byHand = await generate({
      ...REQUEST,
      image: image.media.path,
      seed: 5,
      outputPath: join(OUT, "t2i_i2v.mp4"),
    }, {
      backend: IMAGE,
    });
    const a = await assertSameFrames(r.media.path, byHand.media.path, [0, 1, 2, 3, 4]);
    // ...and not the first_frame_anchored video of the same request (pass 1 differs).
    const other = await generate({ ...REQUEST, seed: 5, outputPath: join(OUT, "ffa5.mp4") }, { backend: ANCHORED });
    const c = await decodeVideoFrames(other.media.path, { frameIndices: [0] });
    assert.notDeepEqual(c[0].data, a[0].data);
    const denoise = events.filter((e) => e.stage === "denoise");
    assert.deepEqual(denoise.map((e) => `${e.done}/${e.total}`), ["1/2", "2/2", "1/2", "2/2"]);
    assert.match(denoise[0].message ?? "", /^pass 1 of 2, the first frame: step 1\/2/);
  });

  test("show() says the video ran as the checkpoint's two passes", async () => {
    const r = await generate({ ...REQUEST, seed: 2, numInferenceSteps: 1 }, { backend: ANCHORED });
    const { html: notes } = await shown(r);
    assert.match(notes, /two passes/);
  });

  test("a text_to_video recipe this version does not know is a CheckpointError naming the allowed values", async () => {
    const dir = fixtureWithNotes("unknown", { text_to_video: "keyframes" });
    await assert.rejects(
      generate({ ...REQUEST, numInferenceSteps: 1 }, { backend: dir }),
      (e: unknown) =>
        e instanceof CheckpointError && /text_to_video "keyframes"/.test(e.message) &&
        /"direct", "first_frame_anchored", "image_anchored"/.test(e.message),
    );
  });
});

describe('generate(): a checkpoint noting "prompt_places" gets places written into a plain prompt (tiny fixture)', () => {
  const PLACED = fixtureWithNotes("placed", { untrained: true, prompt_places: true });
  const PLAIN = "The red cube slides to the left.";

  test("text-to-video runs promptWithPlaces' prompt, reported as upsampledPrompt; show() says so", async () => {
    const r = await generate({ ...REQUEST, prompt: PLAIN, seed: 3, outputPath: join(OUT, "placed.mp4") }, {
      backend: PLACED,
    });
    assert.equal(r.upsampledPrompt, promptWithPlaces(PLAIN));
    assert.match(r.upsampledPrompt!, /^A wooden table with a red cube in the middle near the camera and a green ball /);
    // By hand: the upsampled prompt on the fixture without the note gives the same frames; the plain one does not.
    const byHand = await generate(
      { ...REQUEST, prompt: r.upsampledPrompt!, seed: 3, outputPath: join(OUT, "placed_by_hand.mp4") },
      { backend: CKPT },
    );
    assert.equal(byHand.upsampledPrompt, undefined, "a checkpoint without the note runs the prompt as written");
    const a = await assertSameFrames(r.media.path, byHand.media.path, [0, 1, 2, 3, 4]);
    const plain = await generate({ ...REQUEST, prompt: PLAIN, seed: 3, outputPath: join(OUT, "unplaced.mp4") }, {
      backend: CKPT,
    });
    const p = await decodeVideoFrames(plain.media.path, { frameIndices: [4] });
    assert.notDeepEqual(p[0].data, a[4].data);
    const { html } = await shown(r);
    assert.ok(html.includes(`so it ran: &quot;${r.upsampledPrompt}&quot;`), "show() gives the prompt that ran");
  });

  test("a prompt with every place given, and image-to-video, run as written; text-to-image gets places", async () => {
    const placed = promptWithPlaces(PLAIN);
    const r = await generate({ ...REQUEST, prompt: placed, seed: 4, numInferenceSteps: 1 }, { backend: PLACED });
    assert.equal(r.upsampledPrompt, undefined);
    const i2v = await generate(
      { ...REQUEST, prompt: PLAIN, image: "assets/images/world_push_start.png", seed: 4, numInferenceSteps: 1 },
      { backend: PLACED },
    );
    assert.equal(i2v.mode, "image-to-video");
    assert.equal(i2v.upsampledPrompt, undefined, "the image gives the places");
    // text-to-image draws the scene from text too: places written in
    const t2i = await generate(
      { prompt: PLAIN, output: "image", resolution: "256p", seed: 4, numInferenceSteps: 1 },
      { backend: PLACED },
    );
    assert.equal(t2i.mode, "text-to-image");
    assert.equal(t2i.upsampledPrompt, placed);
  });

  test("a prompt_places that is not true or false is a CheckpointError naming the field", async () => {
    const dir = fixtureWithNotes("placed_bad", { prompt_places: "yes" });
    await assert.rejects(
      generate({ ...REQUEST, numInferenceSteps: 1 }, { backend: dir }),
      (e: unknown) => e instanceof CheckpointError && /prompt_places "yes" is not true or false/.test(e.message),
    );
  });
});
