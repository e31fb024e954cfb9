// generate() on the native engine (CPU) with the tiny Cosmos 3 Generator fixture, against the real diffusers
// pipeline (test/fixtures/cosmos3-tiny-reference/pipeline_<mode>.safetensors, made on the GPU machine by
// tools/fixtures/make_cosmos3_tiny.py):
//  - t2i, t2v (CFG 3), i2v, v2v, t2v with sound (sound latents per step, the AVAE's wave within 1e-4), and the
//    action runs policy, forward and inverse dynamics (the action canvas
//    padded as the pipeline pads it), through the session generate() runs (src/native/generator.ts), planned by
//    src/generator exactly as the pipeline's run was called (64x96, 3 steps, both prompt templates on), with the
//    pipeline's captured noise injected and the conditioning pixels read from the fixture's PNGs: latents after
//    every step, final latents and decoded frames within 1e-3 of diffusers';
//  - generate() itself on the fixture at 256p: a PNG / an H.264 MP4 written atomically that probe right, labelled
//    untrained, progress events in order, abort mid-run frees the run's memory, a bad size is refused; t2v / i2v /
//    v2v with sound write an MP4 with a 48 kHz stereo AAC track (real ffprobe); sound on a checkpoint without
//    sound_tokenizer/ and sound as an input are ValidationErrors.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { generate } from "../../src/api/generate.ts";
import { conditioningPixels } from "../../src/api/native_generate.ts";
import { AbortError, CheckpointError, ValidationError } from "../../src/errors.ts";
import { generatorInputs, planGeneration } from "../../src/generator/mod.ts";
import { probeVideo } from "../../src/media/video.ts";
import { nativeMemory } from "../../src/native/mod.ts";
import { openCosmos3Generator } from "../../src/native/generator.ts";
import type { ProgressEvent } from "../../src/schema/results.ts";
import { f32, i32, maxAbsDiff, readSafetensors } from "../multimodal/_fixture.ts";
import { actionRows, pipelineFrames, pipelineRun } from "../generator/_cosmos3_reference.ts";
import { shown } from "../kernel/_sink.ts";
import { nativeGeneratorFixture } from "./_native_generator_fixture.ts";

const { CKPT, REF, OUT, pipelines, png } = nativeGeneratorFixture("cosmos-native-generate-", "cosmos3-tiny");
const reference = { pipelines: pipelines() };

describe("native Generator vs diffusers' Cosmos3OmniPipeline (tiny fixture, injected noise)", () => {
  for (const mode of ["t2i", "t2v", "i2v", "v2v"]) {
    test(`${mode}: step latents, final latents and decoded frames within 1e-3`, async () => {
      const spec = reference.pipelines[mode];
      const store = readSafetensors(join(REF, `pipeline_${mode}.safetensors`));
      const s = await openCosmos3Generator(CKPT);
      const plan = planGeneration(pipelineRun(spec), s.model);
      const inputs = generatorInputs(plan, s.tokenizer, s.model);
      const condVideo = await conditioningPixels(plan, {
        image: mode === "i2v" ? await png("frame_00.png") : undefined,
        frames: mode === "v2v"
          ? await Promise.all([0, 1, 2, 3, 4].map((i) => png(`frame_${String(i).padStart(2, "0")}.png`)))
          : undefined,
      });
      const events: ProgressEvent[] = [];
      const r = await s.run({
        plan,
        inputs,
        condVideo,
        noise: f32(store.get("noise.vision"), "noise.vision"),
        keepStepLatents: true,
        onProgress: (e) => events.push(e),
      });
      const timesteps = store.get("sched.timesteps")!.bytes.slice();
      assert.deepEqual(Array.from(r.timesteps), Array.from(new Int32Array(timesteps.buffer, 0, timesteps.length / 4)));
      assert.equal(r.stepLatents.length, spec.steps);
      for (let i = 0; i < spec.steps; i++) {
        const d = maxAbsDiff(r.stepLatents[i], f32(store.get(`step.${i}.vision`), `step.${i}.vision`));
        assert.ok(d <= 1e-3, `${mode} step ${i}: ${d}`);
      }
      const dFinal = maxAbsDiff(r.latents, f32(store.get("final.vision"), "final.vision"));
      assert.ok(dFinal <= 1e-3, `${mode} final: ${dFinal}`);
      // out.video [frames kept, H, W, 3] in [0, 1]; i2v / v2v keep frames 0 and 8.
      const want = f32(store.get("out.video"), "out.video");
      assert.deepEqual([r.frames, r.height, r.width], [spec.num_frames, spec.height, spec.width]);
      const got = pipelineFrames(r, want.length);
      const dVideo = maxAbsDiff(got, want);
      console.log(
        `${mode}: max |diff| step latents ${
          r.stepLatents.map((x, i) =>
            maxAbsDiff(x, f32(store.get(`step.${i}.vision`), `step.${i}.vision`)).toExponential(1)
          ).join(
            " ",
          )
        }, final ${dFinal.toExponential(1)}, video ${dVideo.toExponential(1)}`,
      );
      assert.ok(dVideo <= 1e-3, `${mode} video: ${dVideo}`);
      // Progress: the encode chunks (conditioned runs), every step in order, every decode chunk in order.
      const steps = events.filter((e) => e.stage === "denoise").map((e) => e.done);
      assert.deepEqual(steps, [...Array(spec.steps).keys()].map((i) => i + 1));
      const decodes = events.filter((e) => e.stage === "decode").map((e) => e.done);
      assert.deepEqual(decodes, [...Array(plan.latent.t).keys()].map((i) => i + 1));
      const stages = events.map((e) => e.stage).filter((st, i, a) => i === 0 || a[i - 1] !== st);
      assert.deepEqual(
        stages,
        condVideo ? ["prefill", "encode", "denoise", "decode"] : ["prefill", "denoise", "decode"],
      );
      assert.match(events.find((e) => e.stage === "denoise")!.message!, /it\/s, ETA/);
    });
  }

  for (const mode of ["policy", "fdyn", "idyn"]) {
    test(`${mode}: vision and action latents after every step, final actions and decoded frames within 1e-3`, async () => {
      const spec = reference.pipelines[mode];
      const store = readSafetensors(join(REF, `pipeline_${mode}.safetensors`));
      const s = await openCosmos3Generator(CKPT);
      const chunk = spec.action!.chunk_size;
      const plan = planGeneration(pipelineRun(spec, actionRows(store, chunk)), s.model);
      const inputs = generatorInputs(plan, s.tokenizer, s.model);
      assert.deepEqual(inputs.prompts.cond, i32(store.get("prompt.cond_ids"), "prompt.cond_ids"));
      const source = spec.action!.video
        ? await Promise.all([0, 1, 2, 3, 4].map((i) => png(`action_0${i}.png`)))
        : [await png("action_00.png")];
      const condVideo = await conditioningPixels(plan, { frames: source });
      const r = await s.run({
        plan,
        inputs,
        condVideo,
        noise: f32(store.get("noise.vision"), "noise.vision"),
        actionNoise: f32(store.get("noise.action"), "noise.action"),
        keepStepLatents: true,
      });
      const worst: Record<string, number> = {};
      for (let i = 0; i < spec.steps; i++) {
        worst[`step.${i}.vision`] = maxAbsDiff(
          r.stepLatents[i],
          f32(store.get(`step.${i}.vision`), `step.${i}.vision`),
        );
        if (store.has(`step.${i}.action`)) {
          worst[`step.${i}.action`] = maxAbsDiff(
            r.stepActions[i],
            f32(store.get(`step.${i}.action`), `step.${i}.action`),
          );
        }
      }
      worst.final = maxAbsDiff(r.latents, f32(store.get("final.vision"), "final.vision"));
      if (store.has("out.action")) {
        const want = f32(store.get("out.action"), "out.action");
        const width = want.length / chunk;
        const got = new Float32Array(want.length);
        for (let k = 0; k < chunk; k++) {
          got.set(r.action!.subarray(k * plan.action!.actionDim, k * plan.action!.actionDim + width), k * width);
        }
        worst.action = maxAbsDiff(got, want);
      } else {
        // forward dynamics: the actions are clean conditioning and never step
        assert.equal(r.stepActions.length, spec.steps);
      }
      const want = f32(store.get("out.video"), "out.video");
      worst.video = maxAbsDiff(pipelineFrames(r, want.length), want);
      console.log(mode, JSON.stringify(worst));
      for (const [k, d] of Object.entries(worst)) assert.ok(d <= 1e-3, `${mode} ${k}: ${d}`);
    });
  }

  test("t2v with sound: vision and sound latents after every step within 1e-3, decoded wave within 1e-4", async () => {
    const spec = reference.pipelines.t2v_sound;
    const store = readSafetensors(join(REF, "pipeline_t2v_sound.safetensors"));
    const s = await openCosmos3Generator(CKPT);
    const plan = planGeneration(pipelineRun(spec), s.model);
    assert.deepEqual([plan.sound?.channels, plan.sound?.frames], store.get("noise.sound")!.shape);
    const inputs = generatorInputs(plan, s.tokenizer, s.model);
    assert.deepEqual(inputs.prompts.cond, i32(store.get("prompt.cond_ids"), "prompt.cond_ids"));
    const r = await s.run({
      plan,
      inputs,
      noise: f32(store.get("noise.vision"), "noise.vision"),
      soundNoise: f32(store.get("noise.sound"), "noise.sound"),
      keepStepLatents: true,
    });
    const worst: Record<string, number> = {};
    assert.equal(r.stepSounds.length, spec.steps);
    for (let i = 0; i < spec.steps; i++) {
      for (const [k, got] of [["vision", r.stepLatents[i]], ["sound", r.stepSounds[i]]] as const) {
        worst[`step.${i}.${k}`] = maxAbsDiff(got, f32(store.get(`step.${i}.${k}`), `step.${i}.${k}`));
      }
    }
    worst.final = maxAbsDiff(r.latents, f32(store.get("final.vision"), "final.vision"));
    const wantVideo = f32(store.get("out.video"), "out.video");
    worst.video = maxAbsDiff(pipelineFrames(r, wantVideo.length), wantVideo);
    const wave = store.get("out.sound_wave")!;
    assert.deepEqual([r.soundChannels, r.soundSamples], wave.shape);
    assert.equal(r.soundSampleRate, s.model.soundSampleRate);
    const dWave = maxAbsDiff(r.soundWave!, f32(wave, "out.sound_wave"));
    console.log("t2v_sound", JSON.stringify({ ...worst, wave: dWave }));
    for (const [k, d] of Object.entries(worst)) assert.ok(d <= 1e-3, `t2v_sound ${k}: ${d}`);
    assert.ok(dWave <= 1e-4, `t2v_sound wave: ${dWave}`);
  });

  test("a checkpoint the engine cannot take is a CheckpointError naming the key", async () => {
    // The VAE's is_residual: Wan2.1 (false) is refused by the engine's config parser, which names the key.
    const dir = join(OUT, "bad-ckpt");
    mkdirSync(join(dir, "vae"), { recursive: true });
    for (const d of ["transformer", "scheduler", "text_tokenizer", "model_index.json"]) {
      symlinkSync(join(CKPT, d), join(dir, d));
    }
    symlinkSync(
      join(CKPT, "vae", "diffusion_pytorch_model.safetensors"),
      join(dir, "vae", "diffusion_pytorch_model.safetensors"),
    );
    const cfg = JSON.parse(readFileSync(join(CKPT, "vae", "config.json"), "utf8"));
    writeFileSync(join(dir, "vae", "config.json"), JSON.stringify({ ...cfg, is_residual: false }));
    await assert.rejects(
      openCosmos3Generator(dir),
      (e: unknown) => e instanceof CheckpointError && /is_residual/.test(e.message) && /Generator/.test(e.message),
    );
  });

  test("a size the VAE cannot take is a ValidationError naming the rule", async () => {
    const s = await openCosmos3Generator(CKPT);
    const spec = reference.pipelines.t2v;
    assert.throws(
      () => planGeneration({ ...pipelineRun(spec), width: 100 }, s.model),
      (e: unknown) => e instanceof ValidationError && /multiple of 16/.test(e.message) && /width/.test(e.message),
    );
  });
});

describe("generate() on the native engine (tiny fixture)", () => {
  const backend = CKPT;

  test("text-to-image: a PNG of the tier's size, labelled untrained", async () => {
    const outputPath = join(OUT, "t2i.png");
    const r = await generate(
      { prompt: "A red cube.", output: "image", resolution: "256p", aspectRatio: "1:1", numInferenceSteps: 2, seed: 3 },
      { backend },
    );
    assert.equal(r.mode, "text-to-image");
    assert.equal(r.untrained, true);
    assert.equal(r.seed, 3);
    assert.match(r.backend, /^native:/);
    assert.ok(existsSync(r.media.path));
    const meta = await sharp(r.media.path).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 256, 256]);
    assert.deepEqual([r.media.width, r.media.height, r.media.mimeType], [256, 256, "image/png"]);
    void outputPath;
    // Shown inline like a remote result, with the untrained-weights note.
    const { sent, html: notes } = await shown(r);
    assert.ok(sent.some((d) => "image/png" in d.bundle), "the image is shown inline");
    assert.match(notes, /cosmos-untrained/);
    assert.match(notes, /noise by design/);
  });

  test("text-to-video: an H.264 MP4 with the planned frames and fps, progress per step and VAE chunk", async () => {
    const outputPath = join(OUT, "t2v.mp4");
    const events: ProgressEvent[] = [];
    const r = await generate(
      { prompt: "A ball rolls.", resolution: "256p", numFrames: 5, fps: 16, numInferenceSteps: 2, outputPath, seed: 5 },
      { backend, onProgress: (e) => events.push(e) },
    );
    assert.equal(r.media.path, outputPath);
    const info = await probeVideo(outputPath);
    assert.deepEqual([info.width, info.height, info.frameCount, info.fps], [320, 192, 5, 16]);
    assert.equal(info.hasAudio, false);
    assert.deepEqual(
      events.filter((e) => e.stage === "denoise").map((e) => `${e.done}/${e.total}`),
      ["1/2", "2/2"],
    );
    assert.deepEqual(events.filter((e) => e.stage === "decode").map((e) => e.done), [1, 2]);
    assert.equal(readdirSync(OUT).filter((f) => f.includes(".tmp")).length, 0, "no temp file left");
  });

  test("image-to-video and video-to-video run from files and write MP4s", async () => {
    const i2v = await generate(
      {
        prompt: "The gripper closes.",
        image: join(REF, "media", "frame_00.png"),
        resolution: "256p",
        numFrames: 5,
        numInferenceSteps: 1,
        outputPath: join(OUT, "i2v.mp4"),
      },
      { backend },
    );
    assert.equal(i2v.mode, "image-to-video");
    assert.equal((await probeVideo(i2v.media.path)).frameCount, 5);
    const v2v = await generate(
      {
        prompt: "The ball rolls on.",
        video: i2v.media.path,
        conditionFrameIndexes: [1],
        resolution: "256p",
        numFrames: 5,
        numInferenceSteps: 1,
        outputPath: join(OUT, "v2v.mp4"),
      },
      { backend },
    );
    assert.equal(v2v.mode, "video-to-video");
    assert.equal((await probeVideo(v2v.media.path)).frameCount, 5);
  });

  test("abort mid-run: AbortError, no file, the run's memory given back", async () => {
    const s = await openCosmos3Generator(CKPT);
    void s;
    const before = nativeMemory().bytesInUse;
    const ac = new AbortController();
    const outputPath = join(OUT, "aborted.mp4");
    await assert.rejects(
      generate(
        { prompt: "Waves.", resolution: "256p", numFrames: 9, numInferenceSteps: 6, outputPath },
        {
          backend,
          signal: ac.signal,
          onProgress: (e) => {
            if (e.stage === "denoise" && e.done === 1) ac.abort();
          },
        },
      ),
      (e: unknown) => e instanceof AbortError,
    );
    assert.equal(existsSync(outputPath), false);
    assert.equal(nativeMemory().bytesInUse, before);
  });

  test("t2v, i2v and v2v with sound: MP4s with a 48 kHz stereo AAC track, shown inline", async () => {
    const probeSound = async (path: string) => {
      const info = await probeVideo(path);
      assert.deepEqual(
        [info.frameCount, info.audio?.codec, info.audio?.sampleRate, info.audio?.channels],
        [5, "aac", 48000, 2],
        path,
      );
    };
    const t2v = await generate(
      {
        prompt: "Rain on a roof.",
        sound: true,
        resolution: "256p",
        numFrames: 5,
        numInferenceSteps: 1,
        seed: 2,
        outputPath: join(OUT, "t2v_sound.mp4"),
      },
      { backend },
    );
    assert.equal(t2v.mode, "text-to-video-with-sound");
    assert.equal(t2v.media.hasSound, true);
    await probeSound(t2v.media.path);
    const i2v = await generate(
      {
        prompt: "The gripper closes.",
        sound: true,
        image: join(REF, "media", "frame_00.png"),
        resolution: "256p",
        numFrames: 5,
        numInferenceSteps: 1,
        outputPath: join(OUT, "i2v_sound.mp4"),
      },
      { backend },
    );
    assert.equal(i2v.mode, "image-to-video-with-sound");
    await probeSound(i2v.media.path);
    const v2v = await generate(
      {
        prompt: "The ball rolls on.",
        sound: true,
        video: i2v.media.path,
        conditionFrameIndexes: [1],
        resolution: "256p",
        numFrames: 5,
        numInferenceSteps: 1,
        outputPath: join(OUT, "v2v_sound.mp4"),
      },
      { backend },
    );
    assert.equal(v2v.mode, "video-to-video-with-sound");
    await probeSound(v2v.media.path);
    // Rendered as a video with its sound, like a remote result.
    const { sent, html } = await shown(t2v);
    assert.match(html, /<video[^>]*controls/);
    assert.match(JSON.stringify(sent.map((d) => d.bundle)), /sound: true/);
  });

  test("sound on a checkpoint without sound_tokenizer/, and sound as an input, are ValidationErrors", async () => {
    const dir = join(OUT, "no-sound-ckpt");
    mkdirSync(dir, { recursive: true });
    for (const d of ["transformer", "vae", "scheduler", "text_tokenizer", "model_index.json", "cosmos-ts.json"]) {
      symlinkSync(join(CKPT, d), join(dir, d));
    }
    await assert.rejects(
      generate({ prompt: "Rain.", resolution: "256p", numFrames: 5, sound: true }, { backend: dir }),
      (e: unknown) => e instanceof ValidationError && /makes no sound/.test(e.message),
    );
    await assert.rejects(
      generate(
        { prompt: "Rain.", resolution: "256p", numFrames: 5, sound: "rain.wav" as unknown as boolean },
        { backend },
      ),
      (e: unknown) => e instanceof ValidationError && /never conditions on input audio/.test(e.message),
    );
  });

  test("a bad tier is a ValidationError", async () => {
    await assert.rejects(
      generate({ prompt: "Rain.", resolution: "1080p" as unknown as "720p" }, { backend }),
      (e: unknown) => e instanceof ValidationError && /resolution/.test(e.message),
    );
  });
});
