// The training-data writer (tools/train/world_data.ts): every answer it writes parses with the
// Reasoner's own parser into the expected kind and equals the reference; the conversations are
// valid chat messages; media exist and are what they claim; the seed split is enforced.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbortError, ValidationError } from "../../src/errors.ts";
import { probeVideo, readActionChunk, readImage } from "../../src/media/mod.ts";
import { parseAnswer } from "../../src/reasoner/parse.ts";
import { ChatMessages } from "../../src/schema/messages.ts";
import { REASON_TASKS, type ReasonTask } from "../../src/schema/reason_request.ts";
import {
  generatorPrompt,
  gridBox,
  GRIPPER_CONVENTION,
  makeSample,
  OBJECT_COLORS,
  type ObjectColor,
  plausibilityTask,
  ScenarioKind,
  SEED_SPLITS,
  shadesOf,
  splitOfSeed,
} from "../../src/world/mod.ts";
import { colorMask } from "./_pixels.ts";
import { type DataRecord, DataTask, parseArgs, writeWorldData } from "../../tools/train/world_data.ts";
import { writeGeneratorData } from "../../tools/train/generator_data.ts";

const dir = mkdtempSync(join(tmpdir(), "cosmos-world-data-"));
const train = join(dir, "train");
const evalDir = join(dir, "eval");
const COUNT = 6;
let summary: Awaited<ReturnType<typeof writeWorldData>>;
before(async () => {
  summary = await writeWorldData({ out: train, split: "train", count: COUNT, offset: 40 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const records = (task: string): DataRecord[] =>
  readFileSync(join(train, `${task}.jsonl`), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));

describe("world data: the JSONL files", () => {
  test("one file per task, one record per seed (grounding / describe-anything skip a frame with nothing visible)", () => {
    for (const t of DataTask.options) {
      const n = records(t).length;
      assert.ok(n === COUNT || (n >= COUNT - 1 && (t === "grounding_2d" || t === "describe_anything")), `${t}: ${n}`);
    }
    const manifest = JSON.parse(readFileSync(join(train, "manifest.json"), "utf8"));
    assert.equal(manifest.split, "train");
    // format 2: the chunks' gripper column is Cosmos 3's (format 1 had the reverse)
    assert.deepEqual([manifest.format, manifest.gripper], ["cosmos-ts world data 2", "1 open, 0 closed"]);
    assert.deepEqual(manifest.seeds, { from: 40, to: 46 });
    assert.deepEqual(manifest.records, summary.records);
  });
  test("every Reasoner answer parses with src/reasoner/parse.ts into its workflow's kind, equal to the reference", () => {
    const kinds: Record<string, string> = {
      text: "text",
      boxes: "boxes",
      events: "events",
      label: "label",
      trajectory: "trajectory",
      subjects: "subjects",
    };
    for (const t of DataTask.options.filter((x) => x !== "generator")) {
      for (const r of records(t)) {
        const task = t as ReasonTask;
        const parsed = parseAnswer(
          task,
          r.answer,
          task === "describe_anything" ? { subjects: (r.subjects as unknown[]).map(() => ({})) } : {},
        );
        assert.equal(parsed.kind, kinds[REASON_TASKS[task].output], `${r.id}: ${r.answer}`);
        assert.ok(!("invalid" in parsed), `${r.id}: ${JSON.stringify(parsed)}`);
        switch (parsed.kind) {
          case "boxes":
            assert.deepEqual(parsed.boxes.map((b) => ({ label: b.label, box: b.box })), r.reference);
            assert.ok(parsed.boxes.every((b) => !b.problem));
            break;
          case "events":
            assert.deepEqual(parsed.events, r.reference);
            break;
          case "label":
            assert.equal(parsed.label, r.reference);
            break;
          case "trajectory":
            assert.deepEqual(parsed.points, r.reference);
            assert.ok(parsed.points.length >= 8);
            break;
          case "subjects": {
            const ref = r.reference as { index: number; description: string }[];
            assert.deepEqual(
              parsed.subjects.map((s) => [s.index, s.description]),
              ref.map((s) => [s.index, s.description]),
            );
            break;
          }
          case "text":
            assert.equal(parsed.text, r.reference);
            assert.match(parsed.text, /robot arm/);
            break;
        }
      }
    }
  });
  test("conversations are valid chat messages: system, user (media, then the prompt), assistant (the answer)", () => {
    for (const t of DataTask.options.filter((x) => x !== "generator")) {
      for (const r of records(t)) {
        const msgs = ChatMessages.parse(r.messages);
        assert.deepEqual(msgs.map((m) => m.role), ["system", "user", "assistant"]);
        const user = msgs[1].content as { type: string; text?: string }[];
        assert.equal(user[0].type, REASON_TASKS[t as ReasonTask].media === "video" ? "video_url" : "image_url");
        assert.equal(user[1].type, "text");
        const fromUser = REASON_TASKS[t as ReasonTask] as { defaultPrompt?: string };
        if (fromUser.defaultPrompt) assert.equal(user[1].text, fromUser.defaultPrompt);
        assert.deepEqual(msgs[2].content, [{ type: "text", text: r.answer }]);
        assert.equal(r.split, "train");
      }
    }
  });
});

describe("world data: the media", () => {
  test("videos, images and action chunks exist and have the promised shape", async () => {
    const cap = records("caption")[0];
    const v = await probeVideo(join(train, cap.media.video));
    assert.deepEqual([v.width, v.height, v.frameCount, v.fps], [320, 192, 33, 8]);
    const g = records("generator")[0];
    const gv = await probeVideo(join(train, g.media.video));
    assert.deepEqual([gv.width, gv.height, gv.frameCount, gv.fps], [320, 192, 17, 10]);
    const chunk = await readActionChunk(join(train, g.media.actions), { dim: 10 });
    assert.equal(chunk.length, 16);
    assert.equal(g.domainName, "droid_lerobot");
    assert.match(String(g.prompt), /^A wooden table with .+ a grey robot arm above it\. .+\.$/);
    const img = await readImage(join(train, records("grounding_2d")[0].media.image));
    assert.deepEqual([img.width, img.height, img.format], [320, 192, "png"]);
    for (const t of DataTask.options) {
      for (const r of records(t)) {
        for (const p of Object.values(r.media)) assert.ok(existsSync(join(train, p)), `${r.id}: ${p}`);
      }
    }
  });
  test("the chunks are in Cosmos 3's gripper convention, and generator_data.ts writes the same ones", async () => {
    assert.equal(GRIPPER_CONVENTION, "1 open, 0 closed");
    const gen = records("generator");
    const cot = records("action_cot");
    for (const r of [...gen, ...cot]) assert.equal(r.gripper, GRIPPER_CONVENTION, r.id);
    const out = join(dir, "generator_data");
    writeGeneratorData({ out, split: "train", offset: 40, count: 3, frames: 17, fps: 10, width: 320, height: 192 });
    const lines = readFileSync(join(out, "samples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    for (const line of lines) {
      const r = gen.find((g) => g.seed === line.seed)!;
      const chunk = await readActionChunk(join(train, r.media.actions), { dim: 10 });
      assert.deepEqual(line.actions, chunk, `seed ${line.seed}`);
      assert.equal(line.gripper, GRIPPER_CONVENTION);
      // every scenario leaves home open: the first row is still mostly open, and some row closes on the object
      assert.ok(chunk[0][9] > 0.5 && chunk.some((row) => row[9] === 0), `seed ${line.seed}: ${chunk.map((x) => x[9])}`);
      assert.equal(line.prompt, r.prompt, `seed ${line.seed}`);
      assert.equal(line.layout, false);
    }
    // --layout-share: that share of the seeds' prompts say where each object stands, the same seeds on every run
    const laid = join(dir, "generator_data_layout");
    const lineOf = (out: string) =>
      readFileSync(join(out, "samples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const halfLaid = {
      out: laid,
      split: "train",
      offset: 40,
      count: 40,
      frames: 17,
      fps: 10,
      width: 64,
      height: 48,
      layoutShare: 0.5,
    } as const;
    writeGeneratorData(halfLaid);
    const half = lineOf(laid);
    const withLayout = half.filter((l) => l.layout).length;
    assert.ok(withLayout >= 10 && withLayout <= 30, `${withLayout} of 40`);
    for (const l of half) {
      const sample = makeSample(l.seed, { frames: 17, fps: 10 });
      assert.equal(l.prompt, generatorPrompt(sample, { layout: l.layout }), `seed ${l.seed}`);
    }
    writeGeneratorData(halfLaid);
    assert.deepEqual(lineOf(laid).map((l) => l.layout), half.map((l) => l.layout));
    assert.throws(
      () => writeGeneratorData({ ...halfLaid, count: 1, layoutShare: 1.5 }),
      /layout-share/,
    );
  });
  test("implausible samples point at their own clip; plausible ones reuse the clean clip; each names its scenario", () => {
    for (const r of records("physical_plausibility")) {
      assert.ok(ScenarioKind.safeParse(r.scenario).success, `${r.id}: scenario ${r.scenario}`);
      if (r.reference === "implausible") {
        assert.match(r.media.video, /plausibility\.mp4$/);
        assert.ok(r.anomaly);
      } else assert.match(r.media.video, /reasoner\.mp4$/);
    }
  });
  test("the grounding boxes are exactly their object's pixels in the written PNG (first frame or mid-task)", async () => {
    const frames = new Set<number>();
    for (const r of records("grounding_2d")) {
      frames.add(r.frame as number);
      const img = await readImage(join(train, r.media.image));
      for (const b of r.reference as { label: string; box: number[] }[]) {
        const mask = colorMask(img, shadesOf(OBJECT_COLORS[b.label.split(" ")[0] as ObjectColor]));
        assert.deepEqual(gridBox(mask.box!, img), b.box, `${r.id} ${b.label}`);
      }
    }
    assert.ok(frames.has(0) && [...frames].some((k) => k > 0), `frames used: ${[...frames]}`);
  });
  test("--frames-png writes every frame; an aborted run stops with an AbortError", async () => {
    const out = join(dir, "png");
    await writeWorldData({ out, split: "train", count: 1, tasks: ["generator"], framesPng: true });
    const g = JSON.parse(readFileSync(join(out, "generator.jsonl"), "utf8"));
    for (let k = 0; k < g.frames; k++) {
      assert.ok(
        existsSync(join(out, "media", String(g.seed), "generator", `${String(k).padStart(3, "0")}.png`)),
        `frame ${k}`,
      );
    }
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      writeWorldData({ out: join(dir, "aborted"), split: "train", count: 2 }, { signal: ac.signal }),
      AbortError,
    );
    assert.ok(!existsSync(join(dir, "aborted", "manifest.json")));
  });
  test("--sampled-frames: the same records, no mp4, only the sampled frames of each clip, equal to the full render's", async () => {
    const out = join(dir, "sampled"), full = join(dir, "sampled-full");
    const reasoner = DataTask.options.filter((t) => t !== "generator");
    await writeWorldData({ out, split: "train", count: 3, offset: 40, tasks: reasoner, sampledFrames: true });
    await writeWorldData({ out: full, split: "train", count: 3, offset: 40, tasks: reasoner, framesPng: true });
    for (const t of reasoner) {
      assert.equal(readFileSync(join(out, `${t}.jsonl`), "utf8"), readFileSync(join(full, `${t}.jsonl`), "utf8"), t);
    }
    const vf = JSON.parse(readFileSync(join(out, "video_frames.json"), "utf8"));
    assert.deepEqual(vf, { indices: [0, 5, 9, 14, 18, 23, 27, 32], fps: 8, totalFrames: 33 }); // 2 fps of 33 at 8 fps
    for (const seed of [40, 41, 42]) {
      const media = join(out, "media", String(seed));
      assert.ok(!existsSync(join(media, "reasoner.mp4")) && !existsSync(join(media, "plausibility.mp4")));
      const names = readdirSync(join(media, "reasoner")).sort();
      assert.deepEqual(names, vf.indices.map((k: number) => `${String(k).padStart(3, "0")}.png`));
      for (const n of names) {
        assert.deepEqual(
          readFileSync(join(media, "reasoner", n)),
          readFileSync(join(full, "media", String(seed), "reasoner", n)),
        );
      }
    }
    // an implausible clip has its own frames (the anomaly shows in them), a plausible one none
    const plausibility = readFileSync(join(out, "physical_plausibility.jsonl"), "utf8").trim().split("\n");
    for (const r of plausibility.map((l) => JSON.parse(l) as DataRecord)) {
      const own = existsSync(join(out, "media", String(r.seed), "plausibility"));
      assert.equal(own, r.reference === "implausible", r.id);
      if (own) {
        const a = readFileSync(join(out, "media", String(r.seed), "plausibility", "032.png"));
        assert.notDeepEqual(a, readFileSync(join(out, "media", String(r.seed), "reasoner", "032.png")), r.id);
      }
    }
  });
});

describe("world data: --plausibility-fps (physical plausibility's own frame sampling)", () => {
  test("plausibility records carry the request's videoSampling and their frames; every other record is unchanged", async () => {
    const out = join(dir, "pfps"), same = join(dir, "pfps-default"), full = join(dir, "pfps-full");
    const tasks: DataTask[] = ["caption", "physical_plausibility"];
    const common = { split: "train" as const, count: 4, offset: 40, tasks };
    await writeWorldData({ ...common, out, sampledFrames: true, plausibilityFps: 4 });
    await writeWorldData({ ...common, out: same, sampledFrames: true });
    await writeWorldData({ ...common, out: full, framesPng: true });
    assert.equal(readFileSync(join(out, "caption.jsonl"), "utf8"), readFileSync(join(same, "caption.jsonl"), "utf8"));
    const read = (d: string) =>
      readFileSync(join(d, "physical_plausibility.jsonl"), "utf8").trim().split("\n").map((l) =>
        JSON.parse(l) as DataRecord
      );
    const fps2 = JSON.parse(readFileSync(join(out, "video_frames.json"), "utf8")).indices as number[];
    // 4 fps of a 4 s clip at 8 fps: 16 frames spread evenly over the 33, rounded (what Qwen3VLVideoProcessor picks
    // for fps 4, and so the engine for a request with videoSampling { fps: 4 }: src/media/qwen_vision.ts)
    const fps4 = [0, 2, 4, 6, 9, 11, 13, 15, 17, 19, 21, 23, 26, 28, 30, 32];
    const byId = new Map(read(same).map((r) => [r.id, r]));
    for (const r of read(out)) {
      const { videoSampling, video_frames, ...rest } = r;
      assert.deepEqual(rest, byId.get(r.id), r.id); // the answer, reference and media are those of the default run
      assert.deepEqual(videoSampling, { fps: 4 });
      assert.deepEqual(video_frames, { indices: fps4, fps: 8, totalFrames: 33 });
      // the frames the record points at are there, equal to the full render's (a plausible clip reuses reasoner/)
      const clip = join(out, "media", String(r.seed), r.reference === "implausible" ? "plausibility" : "reasoner");
      const names = readdirSync(clip).sort();
      const want = r.reference === "implausible" ? fps4 : [...new Set([...fps2, ...fps4])].sort((a, b) => a - b);
      assert.deepEqual(names, want.map((k) => `${String(k).padStart(3, "0")}.png`), r.id);
      if (r.reference !== "implausible") {
        for (const n of names) {
          assert.deepEqual(
            readFileSync(join(clip, n)),
            readFileSync(join(full, "media", String(r.seed), "reasoner", n)),
          );
        }
      }
    }
    assert.ok(
      read(out).some((r) => r.reference === "implausible") && read(out).some((r) => r.reference === "plausible"),
    );
    assert.deepEqual(parseArgs(["--plausibility-fps", "4"]), { plausibilityFps: 4 });
  });
});

describe("world data: --plausibility-answer (how the plausibility answers explain their label)", () => {
  test("reasoned answers end with the label, timed ones start with it; ids, references and media unchanged", async () => {
    const tasks: DataTask[] = ["physical_plausibility"];
    const common = { split: "train" as const, count: 6, offset: 80, tasks, sampledFrames: true };
    const read = (d: string) =>
      readFileSync(join(d, "physical_plausibility.jsonl"), "utf8").trim().split("\n").map((l) =>
        JSON.parse(l) as DataRecord
      );
    const base = join(dir, "pans-short"), timed = join(dir, "pans-timed"), reasoned = join(dir, "pans-reasoned");
    await writeWorldData({ ...common, out: base });
    await writeWorldData({ ...common, out: timed, plausibilityAnswer: "timed" });
    await writeWorldData({ ...common, out: reasoned, plausibilityAnswer: "reasoned" });
    const short = read(base);
    for (
      const [d, check] of [[timed, (a: string, l: string) => a.startsWith(`${l}. `)], [
        reasoned,
        (a: string, l: string) => a.endsWith(` So the motion is ${l}.`),
      ]] as const
    ) {
      const rs = read(d);
      assert.equal(rs.length, short.length);
      rs.forEach((r, i) => {
        const { answer, messages, ...rest } = r;
        const { answer: shortAnswer, messages: _m, ...shortRest } = short[i];
        assert.deepEqual(rest, shortRest, r.id);
        assert.notEqual(answer, shortAnswer, r.id);
        assert.ok(check(answer, String(r.reference)), `${r.id}: ${answer}`);
        assert.equal(JSON.stringify(messages).includes(JSON.stringify(answer).slice(1, -1)), true, r.id);
      });
    }
    assert.deepEqual(parseArgs(["--plausibility-answer", "timed"]), { plausibilityAnswer: "timed" });
    await assert.rejects(
      writeWorldData({ ...common, out: join(dir, "pans-bad"), plausibilityAnswer: "long" as "timed" }),
      /plausibilityAnswer/,
    );
  });
});

describe("world data: --repeat-color-share", () => {
  test("a share of the seeds has two objects of one colour in every Reasoner task; the rest and the generator's do not", async () => {
    const tasks: DataTask[] = ["caption", "grounding_2d", "physical_plausibility"];
    const common = { split: "train" as const, count: 24, offset: 120, tasks, sampledFrames: true };
    const half = join(dir, "repeat-half"), none = join(dir, "repeat-none");
    await writeWorldData({ ...common, out: half, repeatColorShare: 0.5 });
    await writeWorldData({ ...common, out: none });
    const read = (d: string, task: string) =>
      readFileSync(join(d, `${task}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l) as DataRecord);
    // "… with a red cube, a red ball and a green cube on it." → the colours named twice
    const twice = (caption: string) => {
      const colours = [
        ...caption.split(" on it.")[0].matchAll(/\b(red|green|blue|yellow|orange|purple) (cube|ball|cylinder)\b/g),
      ]
        .map((m) => m[1]);
      return colours.filter((c, i) => colours.indexOf(c) !== i);
    };
    const repeated = read(half, "caption").filter((r) => twice(r.answer).length > 0).map((r) => r.seed);
    assert.equal(read(none, "caption").filter((r) => twice(r.answer).length > 0).length, 0);
    assert.ok(repeated.length >= 6 && repeated.length <= 18, `${repeated.length} of 24 seeds repeat a colour`);
    // the same seeds' grounding and plausibility samples are the recoloured scene's too
    for (const r of read(half, "grounding_2d")) {
      const labels = (r.reference as { label: string }[]).map((b) => b.label);
      const captionOf = read(half, "caption").find((c) => c.seed === r.seed)!.answer;
      for (const l of labels) assert.match(captionOf, new RegExp(`\\b${l}\\b`), `seed ${r.seed}`);
    }
    let renamed = 0;
    for (const r of read(half, "physical_plausibility")) {
      const opts = { frames: 33, fps: 8, anomaly: "auto" as const };
      const want = plausibilityTask(makeSample(r.seed, { ...opts, repeatColor: repeated.includes(r.seed) })).answer;
      assert.equal(r.answer, want, `seed ${r.seed}`);
      if (want !== plausibilityTask(makeSample(r.seed, opts)).answer) renamed++;
    }
    assert.ok(renamed > 0, "some plausibility answer names a recoloured object");
    // the generator's samples are the world's as it is: one colour per object
    const gen = join(dir, "repeat-gen");
    await writeWorldData({
      split: "train",
      count: 3,
      offset: 120,
      tasks: ["generator"],
      out: gen,
      repeatColorShare: 1,
    });
    for (const r of read(gen, "generator")) {
      const prompt = String(r.prompt);
      assert.equal(twice(prompt.replace(", a grey robot arm above it.", " on it.")).length, 0, prompt);
    }
    assert.deepEqual(parseArgs(["--repeat-color-share", "0.3", "--color-grounding-share", "0.25"]), {
      repeatColorShare: 0.3,
      colorGroundingShare: 0.25,
    });
    // colour questions: "Locate every red object." with the boxes of that colour, one or (a repeated colour) two
    const asked = join(dir, "repeat-asked");
    await writeWorldData({
      ...common,
      tasks: ["grounding_2d"],
      out: asked,
      repeatColorShare: 0.5,
      colorGroundingShare: 0.5,
      groundingPrompts: 3,
    });
    const byColor = read(asked, "grounding_2d").filter((r) =>
      /Locate every \w+ object\./.test(JSON.stringify(r.messages))
    );
    assert.ok(byColor.length >= 10, `${byColor.length} colour questions`);
    assert.ok(byColor.some((r) => (r.reference as unknown[]).length === 2), "a colour with two objects");
    for (const r of byColor) {
      const color = /Locate every (\w+) object/.exec(JSON.stringify(r.messages))![1];
      for (const b of r.reference as { label: string }[]) assert.ok(b.label.startsWith(`${color} `), r.id);
    }
    await assert.rejects(
      writeWorldData({ ...common, out: join(dir, "repeat-bad"), repeatColorShare: 1.5 }),
      (e: unknown) => e instanceof ValidationError && e.field === "repeatColorShare",
    );
  });
});

describe("world data: the device path (--png-encoder js, --grounding-prompts)", () => {
  const tasks: DataTask[] = ["caption", "grounding_2d", "temporal_localization", "action_cot", "physical_plausibility"];
  test("the js PNG encoder writes the same pixels as sharp, the same records; several distinct grounding prompts a still", async () => {
    const js = join(dir, "js"), viaSharp = join(dir, "js-sharp");
    const common = { split: "train" as const, count: 3, offset: 60, tasks, sampledFrames: true };
    await writeWorldData({ ...common, out: js, pngEncoder: "js", groundingPrompts: 3 });
    await writeWorldData({ ...common, out: viaSharp });
    for (const t of tasks.filter((t) => t !== "grounding_2d")) {
      assert.equal(readFileSync(join(js, `${t}.jsonl`), "utf8"), readFileSync(join(viaSharp, `${t}.jsonl`), "utf8"), t);
    }
    let pngs = 0;
    for (const seed of readdirSync(join(js, "media"))) {
      const walk = (rel: string): string[] =>
        readdirSync(join(js, "media", seed, rel), { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(rel, e.name)) : [join(rel, e.name)]
        );
      for (const f of walk("")) {
        const [a, b] = await Promise.all([
          readImage(join(js, "media", seed, f)),
          readImage(join(viaSharp, "media", seed, f)),
        ]);
        assert.deepEqual([a.width, a.height, a.format], [320, 192, "png"]);
        assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), `${seed}/${f}`);
        pngs++;
      }
    }
    assert.ok(pngs >= 3 * 10, `PNGs compared: ${pngs}`); // 8 sampled frames + frame0 (+ stills, implausible clips)
    // grounding: variant 0 is the sharp run's record; the extra prompts differ from each other, look at
    // the same still, and every box is the one the "every object" answer (or the pixels) gives
    const lines = (d: string) =>
      readFileSync(join(d, "grounding_2d.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as DataRecord);
    const all = lines(js), first = lines(viaSharp);
    for (const r of first) assert.deepEqual(all.find((x) => x.id === r.id), r);
    assert.ok(all.length > first.length, `${all.length} grounding records for ${first.length} stills`);
    for (const seed of new Set(all.map((r) => r.seed))) {
      const mine = all.filter((r) => r.seed === seed);
      assert.ok(mine.length <= 3);
      const prompts = mine.map((r) => (r.messages[1].content[1] as { text: string }).text);
      assert.equal(new Set(prompts).size, mine.length, prompts.join(" | "));
      assert.equal(new Set(mine.map((r) => r.media.image)).size, 1);
      const img = await readImage(join(js, mine[0].media.image));
      for (const r of mine) {
        assert.deepEqual(parseAnswer("grounding_2d" as ReasonTask, r.answer).kind, "boxes");
        for (const b of r.reference as { label: string; box: number[] }[]) {
          const mask = colorMask(img, shadesOf(OBJECT_COLORS[b.label.split(" ")[0] as ObjectColor]));
          assert.deepEqual(gridBox(mask.box!, img), b.box, `${r.id} ${b.label}`);
        }
      }
    }
  });
  test("the js encoder refuses what needs sharp or ffmpeg", async () => {
    for (const o of [{ tasks: ["describe_anything" as const], sampledFrames: true }, { tasks }]) {
      await assert.rejects(
        writeWorldData({ out: join(dir, "x"), split: "train", count: 1, pngEncoder: "js", ...o }),
        (e: unknown) => e instanceof ValidationError && e.field === "pngEncoder",
      );
    }
    assert.deepEqual(parseArgs(["--png-encoder", "js", "--grounding-prompts", "3"]), {
      pngEncoder: "js",
      groundingPrompts: 3,
    });
  });
});

describe("world data: the seed split", () => {
  test("a training set holds only training seeds; an eval set only held-out seeds", async () => {
    for (const t of DataTask.options) for (const r of records(t)) assert.equal(splitOfSeed(r.seed), "train");
    const s = await writeWorldData({ out: evalDir, split: "eval", count: 2, tasks: ["grounding_2d"] });
    assert.deepEqual(s.seeds, { from: SEED_SPLITS.eval.from, to: SEED_SPLITS.eval.from + 2 });
    for (const l of readFileSync(join(evalDir, "grounding_2d.jsonl"), "utf8").trim().split("\n")) {
      assert.equal(splitOfSeed(JSON.parse(l).seed), "eval");
    }
  });
  test("seeds past the split's end, bad tasks or sizes are ValidationErrors naming the option", async () => {
    const size = SEED_SPLITS.train.to - SEED_SPLITS.train.from;
    await assert.rejects(
      writeWorldData({ out: join(dir, "x"), split: "train", count: 2, offset: size - 1 }),
      (e: unknown) => e instanceof ValidationError && /seeds run past the split/.test(e.message),
    );
    await assert.rejects(
      writeWorldData({ out: join(dir, "x"), split: "train", count: 1, tasks: ["dance" as never] }),
      (e: unknown) => e instanceof ValidationError && e.field.startsWith("tasks"),
    );
    await assert.rejects(
      writeWorldData({ out: join(dir, "x"), split: "test" as never, count: 1 }),
      (e: unknown) => e instanceof ValidationError && e.field === "split",
    );
    await assert.rejects(
      writeWorldData({ out: join(dir, "x"), split: "train", count: 1, size: "big" as never }),
      (e: unknown) => e instanceof ValidationError && e.field === "size",
    );
  });
  test("the command line's arguments", () => {
    assert.deepEqual(
      parseArgs([
        "--out",
        "/d",
        "--split",
        "eval",
        "--count",
        "5",
        "--tasks",
        "caption,generator",
        "--frames-png",
        "--generator-fps",
        "16",
      ]),
      {
        out: "/d",
        split: "eval",
        count: 5,
        tasks: ["caption", "generator"],
        framesPng: true,
        generatorFps: 16,
      },
    );
    assert.throws(() => parseArgs(["stray"]), ValidationError);
  });
});
