// Executes every cookbook headless with real Jupyter (Debian's nbclient through
// test/kernel/run_notebook.py, allow_errors=False) in Deno's kernel, and fails on any cell error.
//
// 1. No backend configured (COSMOS_* unset): each notebook must show its backend line, its inputs
//    (image / video / action plots), the validated request, and for every call: Reasoner
//    notebooks stream the native engine's answer on the mini Reasoner (checkpoints/mini-reasoner,
//    trained by this project on the procedural world of src/world, not Cosmos 3) under the note that
//    says so, and its answers are right against the world's ground truth in assets/scene.json:
//    grounding boxes on the named objects (IoU >= 0.5), events within 0.5 s, a caption naming every
//    object's colour and shape, the plausible and the implausible clip labelled so (greedy decoding,
//    so repeatable). Text-to-video, image-to-video and the single-arm (droid) policy, forward and inverse
//    dynamics calls run the mini Generator (checkpoints/mini-generator, trained by this project on the same
//    world, not Cosmos 3) on the world's held-out push (its prompt, first frame, clip and 16-row chunk) at its
//    caps (MINI_GENERATOR_CAPS: 320x192, 17 frames at 10 fps, its steps and guidance), shown as sent; each
//    result is a 320x192 MP4 of 17 frames or a 16 x 10 chunk (charted against the true chunk) under the note
//    that it was trained on the workflow, and what MINI_GENERATOR_QUALITY below asserts of it (the inverse-dynamics
//    chunk and the action modes' gripper; the rest is noise-bound on one unseeded call, see there). The other Generator / action calls (text-to-image,
//    video-to-video, sound, other embodiments) run the tiny untrained Cosmos 3 checkpoint
//    (test/fixtures/cosmos3-tiny; the action notebooks its 64-wide action head variant cosmos3-tiny-a64, so
//    that egocentric 57D runs too) natively at the tiny caps (256p, 5 or 9 frames, 2 steps, 4-step chunks):
//    the PNG / MP4 files they write exist and probe, each result is labelled untrained; a call with sound
//    writes an MP4 with a 48 kHz stereo AAC track (the tiny checkpoint's sound_tokenizer/); nothing is
//    reported unavailable — never a result from nowhere.
// 2. A sample (caption, 2D grounding, temporal localization, text-to-video, policy) with
//    COSMOS_REASONER_BACKEND / COSMOS_GENERATOR_BACKEND pointing at test/remote/_server.ts. That
//    server follows the documented vLLM (OpenAI chat completions, SSE) and vLLM-Omni (videos/sync,
//    async video jobs) wire formats; it is NOT a model: it answers with scripted text, our own
//    synthetic clip and an action chunk of the requested dimension. The test checks that the
//    notebooks render what came back (streamed text, boxes, a timeline, the video, action plots).
// 3. The tslab variant (reasoner/caption.tslab.ipynb, CommonJS bundle dist/cosmos.cjs) against the
//    same server.
// 4. The quickstart (cookbooks/quickstart.ipynb, the main job's notebook), no backend configured: the mini
//    Reasoner's boxes overlap the still's true boxes (IoU >= 0.5 each, drawn over the image), and the mini
//    Generator's text-to-video writes a 320x192 MP4 of 17 frames under the note that it was trained on it.
// Node only (tslab, nbclient).
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import sharp from "sharp";
import { elements } from "../kernel/_sink.ts";
import { type Recorded, startTestServer, type TestServer } from "../remote/_server.ts";
import { EMBODIMENTS } from "../../src/schema/embodiments.ts";
import { probeVideo } from "../../src/media/video.ts";
import { type Cell, displays, html, type Output, plain, str } from "../kernel/_nbformat.ts";
import { iou, objectsNamed } from "../../bench/mini_reasoner_eval.ts";
import { chunkError, followsDirection, framesOf, pathError } from "../../bench/mini_generator_eval.ts";
import { MINI_GENERATOR_CAPS, MINI_GENERATOR_WORKFLOWS } from "../../kernel/calls.ts";
import { readActionChunk } from "../../src/media/mod.ts";
import type { Direction, ObjectColor } from "../../src/world/mod.ts";
import { parseAnswer } from "../../src/reasoner/parse.ts";
import type { ReasonTask } from "../../src/schema/reason_request.ts";
import type { Scene } from "../../cookbooks/_notebook.ts";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const cookbooks = join(repo, "cookbooks");
const dir = mkdtempSync(join(tmpdir(), "cosmos-cookbooks-"));

/** The environment without any COSMOS_* variable, plus `extra`. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("COSMOS_") && v !== undefined) e[k] = v;
  return { ...e, PYTHONWARNINGS: "ignore", ...extra };
}

/** Executes a cookbook (path under cookbooks/) and returns its executed cells. */
async function execute(
  path: string,
  kernel: string,
  extraEnv: Record<string, string> = {},
  tag = "plain",
): Promise<Cell[]> {
  const name = `${path.replaceAll("/", "_")}.${tag}`;
  const out = join(dir, `${name}.ipynb`);
  try {
    const r = await run("/usr/bin/python3", [
      join(repo, "test", "kernel", "run_notebook.py"),
      join(cookbooks, path),
      kernel,
      out,
      join(dir, `${name}.messages.json`),
      "240",
    ], {
      env: env(extraEnv),
      timeout: 300_000,
      maxBuffer: 64 << 20,
    });
    writeFileSync(join(dir, `${name}.stderr.txt`), r.stderr);
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(
      `executing cookbooks/${path} with kernel "${kernel}" failed:\n${(err.stderr ?? String(e)).slice(-4000)}`,
    );
  }
  const cells = (JSON.parse(readFileSync(out, "utf8")) as { cells: Cell[] }).cells;
  for (const c of cells) {
    for (const o of c.outputs ?? []) {
      assert.notEqual(o.output_type, "error", `cookbooks/${path}: ${o.ename}: ${o.evalue}`);
    }
  }
  return cells;
}

/** Outputs of the code cells whose source includes `needle` (all of them, in order). */
function outputsOf(cells: Cell[], needle: string): Output[] {
  const hit = cells.filter((c) => c.cell_type === "code" && str(c.source).includes(needle));
  assert.ok(hit.length > 0, `a cell with ${needle}`);
  return hit.flatMap(displays);
}

const all = (cells: Cell[]) => cells.flatMap(displays);
const notes = (cells: Cell[], kind: string) =>
  all(cells).filter((o) => html(o).includes(`class="cosmos-note cosmos-${kind}"`));

/** The backend line the backend cell shows. */
function backendLine(cells: Cell[]): string {
  const line = all(cells).map(plain).find((t) => t.startsWith("backend: "));
  assert.ok(line, "the backend line");
  return line;
}

/** What each notebook must show of its inputs. */
type InputKind = "video" | "image" | "boxes" | "subjects" | "timeline" | "plot" | "text";
const INPUTS: Record<string, InputKind[]> = {
  "reasoner/caption.ipynb": ["video"],
  "reasoner/temporal_localization.ipynb": ["video", "timeline"],
  "reasoner/embodied_reasoning.ipynb": ["video"],
  "reasoner/common_sense.ipynb": ["video"],
  "reasoner/grounding_2d.ipynb": ["image", "boxes"],
  "reasoner/describe_anything.ipynb": ["image", "subjects"],
  "reasoner/action_cot.ipynb": ["image", "video"],
  "reasoner/physical_plausibility.ipynb": ["video"],
  "reasoner/situation_understanding.ipynb": ["video"],
  "generator/text_to_image.ipynb": ["text"],
  "generator/text_to_video.ipynb": ["text"],
  "generator/text_to_video_sound.ipynb": ["text"],
  "generator/image_to_video.ipynb": ["image"],
  "generator/video_to_video.ipynb": ["video"],
  "generator/prompt_upsampling.ipynb": ["text"],
  "action/policy.ipynb": ["image"],
  "action/forward_dynamics.ipynb": ["image", "plot"],
  "action/inverse_dynamics.ipynb": ["video"],
};

function assertInputs(path: string, cells: Cell[]): void {
  const shown = all(cells);
  for (const kind of INPUTS[path]) {
    const ok = {
      video: () =>
        shown.some((o) =>
          elements(html(o), "video", "cosmos-video").length === 1 && html(o).includes("data:video/mp4;base64,")
        ),
      image: () =>
        shown.some((o) =>
          /<figure class="cosmos-input"[^>]*><img src="data:image\/(png|jpeg|webp);base64,/.test(html(o))
        ),
      boxes: () =>
        shown.some((o) =>
          elements(html(o), "rect", "cosmos-box-rect").length === scene().world.smallImage.boxes.length
        ),
      subjects: () => shown.some((o) => (html(o).match(/class="cosmos-subject-outline"/g) ?? []).length === 2),
      timeline: () =>
        shown.some((o) =>
          elements(html(o), "rect", "cosmos-event").length === scene().world.smallPickPlace.events.length
        ),
      plot: () => shown.some((o) => o.data?.["application/vnd.plotly.v1+json"]),
      text: () => true,
    }[kind];
    assert.ok(ok(), `${path} shows its input: ${kind}`);
  }
  const validated = shown.filter((o) => o.data?.["application/json"] && /validated|· \{"width"/.test(plain(o)));
  assert.ok(validated.length >= 1, `${path} shows the validated request`);
}

/** The call cells: `await show(reason(…))`, `await show(generate(…))`, `await show(rollout(…))`, or a result kept and shown. */
const CALL =
  /^(await show\((reason|generate|rollout)\(.*\);|const (\w+) = await (reason|generate|rollout)\(.*\);\nawait show\(\3(, \{ fps: 10 \})?\);)$/;

/** The notebook a newcomer reads first (see QUICKSTART below). */
const QUICKSTART_PATH = "quickstart.ipynb";

/** assets/scene.json (assets/make.ts writes it in `before`): the inputs' ground truth. */
let sceneJson: Scene | undefined;
function scene(): Scene {
  sceneJson ??= JSON.parse(readFileSync(join(repo, "assets", "scene.json"), "utf8")) as Scene;
  return sceneJson;
}

/** The workflows the mini Reasoner was trained on (kernel/calls.ts MINI_REASONER_TASKS says the same). */
const MINI_TRAINED =
  /^(caption|grounding_2d|temporal_localization|physical_plausibility|action_cot|describe_anything)$/;

/** The streamed answer of a call cell (the text of its `cosmos-answer` box). */
function answerOf(path: string, call: Cell): string {
  const box = displays(call).map((o) => html(o).match(/<div class="cosmos-answer"[^>]*>([\s\S]*?)<\/div>/)?.[1])
    .find((a) => a !== undefined);
  assert.ok(box !== undefined, `${path}: "${str(call.source)}" has an answer`);
  return box.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/**
 * The mini Reasoner's answers against the world's ground truth (assets/scene.json `world`): what a newcomer sees
 * must be right, not just present. Greedy decoding (miniCheckpoint: true), so each answer is repeatable.
 */
function assertMiniAnswers(path: string, calls: Cell[]): void {
  const world = scene().world;
  const parsed = (task: ReasonTask, call: Cell) => parseAnswer(task, answerOf(path, call));
  if (path === "reasoner/grounding_2d.ipynb") {
    const got = parsed("grounding_2d", calls[0]);
    assert.equal(got.kind, "boxes", `${path}: boxes parse`);
    for (const ref of world.smallImage.boxes) {
      const box = got.kind === "boxes" ? got.boxes.find((b) => b.label === ref.label) : undefined;
      assert.ok(box, `${path}: a box labelled "${ref.label}"`);
      const overlap = iou(box.box as [number, number, number, number], ref.box);
      assert.ok(overlap >= 0.5, `${path}: "${ref.label}" IoU ${overlap.toFixed(3)} with the reference (>= 0.5)`);
    }
  } else if (path === "reasoner/temporal_localization.ipynb") {
    const got = parsed("temporal_localization", calls[0]);
    assert.equal(got.kind, "events", `${path}: events parse`);
    const events = got.kind === "events" ? got.events : [];
    world.smallPickPlace.events.forEach((ref, i) => {
      const e = events.find((x) => x.label === ref.label) ?? events[i];
      assert.ok(e, `${path}: an event for "${ref.label}"`);
      const off = Math.max(Math.abs(e.start - ref.start), Math.abs(e.end - ref.end));
      assert.ok(
        off <= 0.5,
        `${path}: "${ref.label}" ${e.start}-${e.end} s vs ${ref.start}-${ref.end} s (within 0.5 s)`,
      );
    });
  } else if (path === "reasoner/caption.ipynb") {
    const named = [...objectsNamed(answerOf(path, calls[0]))].sort();
    assert.deepEqual(
      named,
      world.smallImage.boxes.map((b) => b.label).sort(),
      `${path}: the caption names the objects`,
    );
  } else if (path === "reasoner/physical_plausibility.ipynb") {
    const labels = calls.map((c) => parsed("physical_plausibility", c)).map((p) =>
      p.kind === "label" ? p.label : p.kind
    );
    assert.deepEqual(labels, [world.smallPickPlace.label, world.floating.label], `${path}: the clips' labels`);
  }
}

/** Every call runs on a mini or tiny checkpoint under the note that says what it is: Reasoner calls stream; Generator / action calls leave media (with sound when asked). */
async function assertHonestWithoutBackend(path: string, cells: Cell[]): Promise<void> {
  const surface = path.split("/")[0];
  const line = backendLine(cells);
  const calls = cells.filter((c) => c.cell_type === "code" && CALL.test(str(c.source)));
  assert.ok(calls.length >= 1, `${path} makes at least one call`);
  const code = cells.filter((c) => c.cell_type === "code").map((c) => str(c.source));
  assert.ok(
    !code.some((src) =>
      /\b(reason|generate|rollout)\((?!\))/.test(src) && !CALL.test(src) && !/^(\/\/|import)/.test(src)
    ),
    `${path}: every call is a one-line cell`,
  );
  assert.ok(
    !code.some((src) => /maxTokens: 48|function run\(/.test(src)),
    `${path}: no caps or run() helper in the cells`,
  );
  const unavailable = notes(cells, "unavailable").map(plain);
  if (surface === "reasoner" || path.endsWith("prompt_upsampling.ipynb")) {
    assert.match(line, /^backend: native:\w+ \(.*checkpoints\/mini-reasoner\) · embedded native engine/);
    assert.ok(
      notes(cells, "info").some((o) =>
        plain(o).includes("a mini model trained by this project on a synthetic world, not Cosmos 3") &&
        plain(o).includes("COSMOS_REASONER_BACKEND")
      ),
      `${path}: says what the mini Reasoner is and how to point the notebook at Cosmos 3`,
    );
    // The sampling the notebook shows as sent is what the call sends: the mini Reasoner's caps (at most 256
    // tokens; greedy in the Reasoner notebooks, whose requests set no temperature), not the spec's preset.
    const sampling = cells.filter((c) => c.cell_type === "code" && str(c.source).includes("reasonSamplingSent("));
    assert.equal(sampling.length, calls.length, `${path}: one "sampling sent" cell per call`);
    for (const c of sampling) {
      const sent = displays(c).map((o) => o.data?.["application/json"]).find((j) => j !== undefined) as
        | { temperature?: number; max_tokens?: number }
        | undefined;
      assert.equal(sent?.max_tokens, 256, `${path}: the sampling shown is capped at the mini Reasoner's 256 tokens`);
      if (surface === "reasoner") assert.equal(sent?.temperature, 0, `${path}: the sampling shown is greedy`);
    }
    // The native Reasoner is built (scripts/build-native.sh): every call streams an answer on the
    // mini Reasoner (miniCheckpoint: true: greedy, capped), says whether it was trained on the workflow,
    // and nothing is reported unavailable.
    for (const c of calls) {
      const out = displays(c);
      const task = str(c.source).match(/reason\((\w+),/)?.[1] ?? "";
      const request = str((cells.find((x) => str(x.source).includes(`const ${task}: ReasonRequestInput`)) ?? c).source);
      const workflow = request.match(/task: "(\w+)"/)?.[1] ?? "";
      assert.ok(
        out.some((o) => html(o).includes('class="cosmos-answer"')),
        `${path}: "${str(c.source)}" streams its answer`,
      );
      assert.ok(
        out.some((o) =>
          MINI_TRAINED.test(workflow)
            ? plain(o).startsWith(`Mini Reasoner, trained on ${workflow} in its synthetic world`)
            : plain(o).startsWith(`The mini Reasoner was NOT trained on ${workflow}`)
        ),
        `${path}: "${str(c.source)}" says whether the mini Reasoner was trained on ${workflow}`,
      );
      assert.ok(
        out.some((o) => html(o).includes('class="cosmos-progress"') && html(o).includes('data-finished="true"')),
        `${path}: progress bars`,
      );
      // The decode bar ends at the tokens that came out (done = total), and says why: not at the limit.
      const decode = out.map(plain).find((t) => /^decode \d+\/\d+ /.test(t));
      const [, done, total] = decode?.match(/^decode (\d+)\/(\d+) /) ?? [];
      assert.ok(done !== undefined && done === total, `${path}: the decode bar ends at its tokens: ${decode}`);
      assert.match(decode!, /(stopped at end of answer \(limit 256\)|reached the token limit of 256)$/);
      // The cell's last display (show()'s summary) arrives: nothing is lost when a cell ends (the
      // notebooks have no pause of their own; kernel/runtime.ts display() yields after each display).
      assert.match(plain(out.at(-1)!), /^parsed as \w+/, `${path}: the parsed summary comes last`);
      if (path.endsWith("prompt_upsampling.ipynb")) {
        assert.ok(
          !out.some((o) => plain(o).includes("Reading and resizing the media")),
          `${path}: a text-only call reads no media`,
        );
      }
    }
    assert.deepEqual(unavailable, [], `${path}: the native Reasoner ran`);
    assertMiniAnswers(path, calls);
    // One answer box per call (the streamed one): show() adds the parsed part only.
    assert.equal(
      all(cells).filter((o) => html(o).includes('class="cosmos-answer"')).length,
      calls.length,
      `${path}: each answer shown once`,
    );
  } else {
    await assertGeneratorRan(path, cells, calls);
  }
}

/**
 * The notebooks whose default is the mini Generator (`options`; `tinyOptions`, where there is one, is the tiny
 * checkpoint for the calls it was not trained for: sound, other embodiments than droid).
 */
const MINI_GENERATOR_NOTEBOOKS = new Set([
  QUICKSTART_PATH,
  "generator/text_to_video.ipynb",
  "generator/image_to_video.ipynb",
  "action/policy.ipynb",
  "action/forward_dynamics.ipynb",
  "action/inverse_dynamics.ipynb",
]);

/** The options variable a call cell passes (`options`, `tinyOptions`, `generatorOptions`). */
const optionsOf = (call: Cell) => str(call.source).match(/\(\w+, (\w+)\)/)?.[1] ?? "";

/**
 * A Generator / action notebook without a backend: the mini Generator runs its trained workflows
 * ({@link assertMiniGeneratorCall}), the tiny untrained checkpoint the rest ({@link assertTinyGeneratorCall}),
 * each said in a backend line; nothing is reported unavailable.
 */
async function assertGeneratorRan(path: string, cells: Cell[], calls: Cell[]): Promise<void> {
  const lines = all(cells).map(plain).filter((t) => t.startsWith("backend: "));
  const mini = MINI_GENERATOR_NOTEBOOKS.has(path);
  const tinyLine = lines.find((l) => /test\/fixtures\/cosmos3-tiny/.test(l));
  if (mini) {
    assert.match(
      lines.find((l) => l.includes("mini-generator")) ?? "",
      /^backend: native:\w+ \(.*checkpoints\/mini-generator\) · embedded native engine/,
    );
    assert.ok(
      notes(cells, "info").some((o) =>
        plain(o).includes(
          "mini-generator is a mini model trained by this project on a synthetic world, not Cosmos 3",
        ) &&
        plain(o).includes("COSMOS_GENERATOR_BACKEND")
      ),
      `${path}: says what the mini Generator is and how to point the notebook at Cosmos 3`,
    );
  }
  const tinyCalls = calls.filter((c) => !mini || optionsOf(c) === "tinyOptions");
  if (tinyCalls.length > 0) {
    const checkpoint = path.startsWith("action/") ? "cosmos3-tiny-a64" : "cosmos3-tiny";
    assert.match(
      tinyLine ?? "",
      new RegExp(`^backend: native:\\w+ \\(.*test/fixtures/${checkpoint}\\) · embedded native engine`),
    );
    assert.ok(
      notes(cells, "untrained").some((o) => plain(o).includes("RANDOM, UNTRAINED weights")),
      `${path}: says the weights are untrained`,
    );
  } else {
    assert.equal(tinyLine, undefined, `${path}: no tiny checkpoint`);
  }
  assert.deepEqual(notes(cells, "unavailable").map(plain), [], `${path}: nothing reported unavailable`);
  for (const c of calls) {
    if (tinyCalls.includes(c)) await assertTinyGeneratorCall(path, c);
    else await assertMiniGeneratorCall(path, cells, cells.indexOf(c));
  }
}

/** The MP4 / PNG media a call cell shows inline, as bytes. */
function inlineMedia(out: Output[]): { ext: string; bytes: Buffer }[] {
  return out.flatMap((o) => {
    const png = o.data?.["image/png"];
    if (typeof png === "string") return [{ ext: "png", bytes: Buffer.from(png, "base64") }];
    const mp4 = html(o).match(/data:video\/mp4;base64,([A-Za-z0-9+/=]+)/)?.[1];
    return mp4 ? [{ ext: "mp4", bytes: Buffer.from(mp4, "base64") }] : [];
  });
}

/** Writes inline media to the test's folder and returns the path. */
function writeInline(m: { ext: string; bytes: Buffer }): string {
  const file = join(dir, `inline-${Date.now()}-${Math.random().toString(36).slice(2)}.${m.ext}`);
  writeFileSync(file, m.bytes);
  return file;
}

/**
 * A call on the mini Generator (a workflow it was trained on, on the world's held-out push): the request shown as
 * sent carries its caps (320x192, 17 frames at 10 fps, MINI_GENERATOR_CAPS.steps steps, guidance 4 for video,
 * 1 for actions); the result is a 320x192 MP4 of 17 frames (file and inline) or a 16 x 10 droid chunk, under the
 * note that it was trained on the workflow (with the figure of MINI_GENERATOR_WORKFLOWS), never labelled
 * untrained; policy and inverse dynamics chart the chunk against the true one. Then the quality hook.
 */
async function assertMiniGeneratorCall(path: string, cells: Cell[], at: number): Promise<void> {
  const call = cells[at];
  const src = str(call.source);
  const out = displays(call);
  const name = src.match(/(?:generate|rollout)\((\w+),/)?.[1] ?? "";
  const isGenerate = src.includes("generate(");
  // The request as sent: the caps, shown before the call.
  const sentShown = all(cells).find((o) => plain(o).startsWith(`${name}: sent with ${optionsOf(call)}`));
  const sent = sentShown?.data?.["application/json"] as
    | {
      effective: {
        width?: number;
        height?: number;
        numFrames?: number;
        fps?: number;
        numInferenceSteps: number;
        guidanceScale: number;
      };
    }
    | undefined;
  assert.ok(sent, `${path}: "${name}" shown as sent`);
  const c = MINI_GENERATOR_CAPS;
  assert.deepEqual(
    [sent.effective.numFrames, sent.effective.fps, sent.effective.numInferenceSteps, sent.effective.guidanceScale],
    [c.numFrames, c.fps, c.steps, isGenerate ? c.videoGuidance : c.actionGuidance],
    `${path}: "${name}" sent at the mini Generator's caps`,
  );
  if (isGenerate) assert.deepEqual([sent.effective.width, sent.effective.height], [c.width, c.height]);
  const workflow = isGenerate
    ? (out.map(plain).find((t) => /^[a-z-]+: \d+x\d+/.test(t)) ?? "").split(":")[0]
    : src.includes("forward") || path.includes("forward_dynamics")
    ? "forward_dynamics"
    : path.includes("inverse_dynamics")
    ? "inverse_dynamics"
    : "policy";
  assert.ok(workflow in MINI_GENERATOR_WORKFLOWS, `${path}: "${src}" is a trained workflow (${workflow})`);
  assert.ok(
    out.some((o) =>
      plain(o).startsWith(
        `Mini Generator, trained on ${workflow} in its synthetic world: ${
          MINI_GENERATOR_WORKFLOWS[workflow as keyof typeof MINI_GENERATOR_WORKFLOWS]
        }; run at 320x192, 17 frames at 10 fps, `,
      )
    ),
    `${path}: "${src}" says it was trained on ${workflow}, with the figure and the settings`,
  );
  assert.ok(!out.some((o) => /Untrained test checkpoint|Tiny test checkpoint/.test(plain(o))), `${path}: not tiny`);
  const inline = inlineMedia(out);
  let video: string | undefined;
  let actions: number[][] | undefined;
  if (isGenerate) {
    const summary = out.map(plain).find((t) => /^[a-z-]+: \d+x\d+ .* · native:/.test(t)) ?? "";
    assert.match(summary, /^(text|image)-to-video: 320x192 · 17 frames at 10 fps · sound: false · \S+ · native:/);
    const written = resolve(cookbooks, dirname(path), summary.split(" · ")[3]);
    const info = await probeVideo(written);
    assert.deepEqual([info.width, info.height, info.frameCount, info.hasAudio], [320, 192, 17, false], written);
    assert.equal(inline.length, 1, `${path}: "${src}" shows its video inline`);
    video = writeInline(inline[0]);
    assert.equal((await probeVideo(video)).frameCount, 17, `${path}: inline MP4 probes`);
  } else {
    const summary = out.map(plain).find((t) => / · native:/.test(t)) ?? "";
    const role = workflow === "forward_dynamics" ? "given" : "predicted";
    assert.match(summary, new RegExp(`^${workflow} · droid · 16 ${role} steps × 10D`), `${path}: a 16 x 10 chunk`);
    assert.ok(out.some((o) => o.data?.["application/vnd.plotly.v1+json"]), `${path}: "${src}" actions plotted`);
    if (workflow === "inverse_dynamics") assert.equal(inline.length, 0, `${path}: no video for inverse dynamics`);
    else {
      assert.equal(inline.length, 1, `${path}: "${src}" rollout video`);
      video = writeInline(inline[0]);
      const info = await probeVideo(video);
      assert.deepEqual([info.width, info.height, info.frameCount], [320, 192, 17], `${path}: the rollout video`);
    }
    if (workflow !== "forward_dynamics") {
      // The next code cell charts the predicted chunk against the world's true one: 10 dimensions × 2.
      const next = cells.slice(at + 1).find((x) => x.cell_type === "code")!;
      const figures = displays(next).map((o) =>
        o.data?.["application/vnd.plotly.v1+json"] as { data: { name?: string }[] } | undefined
      ).filter((f) => f !== undefined);
      assert.ok(
        figures.some((f) =>
          f.data.length === 20 && new Set(f.data.map((t) => t.name)).size === 2 &&
          f.data.some((t) => t.name === "true")
        ),
        `${path}: the predicted chunk charted against the true chunk`,
      );
      const shown = displays(next).map(plain).find((t) => t.startsWith("predicted "));
      assert.match(shown ?? "", /^predicted 16 × 10 · true 16 × 10 · /, `${path}: a 16 x 10 chunk against the truth`);
      actions = await chunkOf(next);
    }
  }
  await assertMiniGeneratorQuality(path, workflow, { video, actions });
}

/** The predicted chunk a comparison cell charted (its "predicted" traces, one per dimension). */
function chunkOf(cell: Cell): Promise<number[][]> {
  const figure = displays(cell).map((o) =>
    o.data?.["application/vnd.plotly.v1+json"] as { data: { name?: string; y?: number[] }[] } | undefined
  ).find((f) => f?.data.length === 20)!;
  const columns = figure.data.filter((t) => t.name === "predicted").map((t) => t.y ?? []);
  return Promise.resolve(columns[0].map((_, k) => columns.map((col) => col[k])));
}

/**
 * THE PLACE FOR THE MINI GENERATOR'S QUALITY ASSERTIONS in the cookbooks (an undefined threshold is not asserted).
 * The checkers are bench/mini_generator_eval.ts's, on the world's held-out push (assets/scene.json `world.push`):
 * - `videoMinShiftPx`: text- and image-to-video: the prompted object (the red cube) moves the prompted way (left)
 *   by at least this many pixels, as one coherent object (`followsDirection`);
 * - `fdynMaxPathError`: forward dynamics: the gripper's path within this fraction of the frame width of the
 *   simulated clip's (`pathError`);
 * - `idynMaxPositionErrorM`: inverse dynamics: the chunk read from the clip, mean TCP distance (metres) to the
 *   true chunk (`chunkError`);
 * - `chunkMaxGripperError`: policy and inverse dynamics: the chunk's mean gripper error against the true chunk.
 *
 * Set for the committed weights (checkpoints/mini-generator, session 41's run41c), from what they do on 200 held-out
 * seeds a mode: no inverse-dynamics chunk off by more than 0.1 m (mean 0.021, largest 0.049), no policy or
 * inverse-dynamics gripper error above 0.05 (mean 0.004-0.005, largest 0.009; run29b's largest 0.055 m and 0.012). Not asserted here: the
 * forward-dynamics path and the policy's TCP position. The cookbooks' requests carry no seed, so each run draws new
 * noise, and one clip's figure varies with it (the CI run of 96d5801, session 13's weights: forward dynamics 0.149 on
 * this clip, 0.034 with the eval's noise); over the 200 seeds 28 policies are off by more than 0.15 m (run29b: 30, and 1
 * forward-dynamics path by more than 0.15). The CI subset (test/bench/mini_generator_eval_ci.node.test.ts) asserts both on fixed seeds. Nor
 * the video following the prompt (82% of 200 fresh held-out prompts with places, the recipe and its first-frame check).
 */
const MINI_GENERATOR_QUALITY: {
  videoMinShiftPx?: number;
  fdynMaxPathError?: number;
  idynMaxPositionErrorM?: number;
  chunkMaxGripperError?: number;
} = { idynMaxPositionErrorM: 0.1, chunkMaxGripperError: 0.05 };

/** Applies {@link MINI_GENERATOR_QUALITY} to one mini Generator result of a cookbook. */
async function assertMiniGeneratorQuality(
  path: string,
  workflow: string,
  result: { video?: string; actions?: number[][] },
): Promise<void> {
  const q = MINI_GENERATOR_QUALITY;
  const push = scene().world.push;
  if ((workflow === "text-to-video" || workflow === "image-to-video") && q.videoMinShiftPx !== undefined) {
    const [, color, direction] = push.events[0].label.match(/^the (\w+) \w+ slides (?:to the )?(\w+)/) ?? [];
    const verdict = followsDirection(
      await framesOf(result.video!, 17),
      color as ObjectColor,
      direction as Direction,
      q.videoMinShiftPx,
    );
    assert.ok(verdict.ok, `${path}: ${push.events[0].label}: ${verdict.reason}`);
  }
  if (workflow === "forward_dynamics" && q.fdynMaxPathError !== undefined) {
    const e = pathError(await framesOf(result.video!, 17), await framesOf(join(repo, "assets", push.path), 17));
    assert.ok(e.meanFraction <= q.fdynMaxPathError, `${path}: gripper path error ${e.meanFraction.toFixed(3)}`);
  }
  if ((workflow === "policy" || workflow === "inverse_dynamics") && result.actions) {
    const truth = await readActionChunk(join(repo, "assets", push.actions), { dim: 10 });
    const e = chunkError(result.actions, truth);
    if (workflow === "inverse_dynamics" && q.idynMaxPositionErrorM !== undefined) {
      assert.ok(e.position <= q.idynMaxPositionErrorM, `${path}: TCP error ${e.position.toFixed(3)} m`);
    }
    if (q.chunkMaxGripperError !== undefined) {
      assert.ok(e.gripper <= q.chunkMaxGripperError, `${path}: gripper error ${e.gripper.toFixed(3)}`);
    }
  }
}

/**
 * A call on the tiny untrained Cosmos 3 checkpoint: media that probe at the tiny caps (256p, 5 or 9 frames) under
 * both untrained notes, a call with sound an MP4 with a 48 kHz stereo AAC track; action notebooks run
 * cosmos3-tiny-a64 (a 64-wide action head), so the 57D egocentric policy runs and is charted in 16 grouped panels.
 */
async function assertTinyGeneratorCall(path: string, c: Cell): Promise<void> {
  const src = str(c.source);
  const out = displays(c);
  const last = plain(out.at(-1) ?? { output_type: "display_data" });
  const withSound = /\bwithSound\b/.test(src);
  if (/\begocentric\b/.test(src)) {
    // The 57D hand pose fits the 64-wide head: charted as one panel per group (camera translation and
    // rotation, then per hand the wrist translation, rotation and five fingertips), one trace per dimension.
    const plot = out.map((o) =>
      o.data?.["application/vnd.plotly.v1+json"] as { data: unknown[]; layout?: Record<string, unknown> } | undefined
    )
      .find((p) => p !== undefined);
    assert.equal(plot?.data.length, 57, `${path}: "${src}" one trace per dimension`);
    assert.equal(
      Object.keys(plot?.layout ?? {}).filter((k) => /^yaxis\d*$/.test(k)).length,
      16,
      `${path}: 16 panels`,
    );
  }
  assert.ok(
    out.some((o) => /^Tiny test checkpoint: run at 256p, .*2 denoising steps/.test(plain(o))),
    `${path}: "${src}" says the tiny caps`,
  );
  assert.match(
    last,
    /^Untrained test checkpoint \(its cosmos-ts\.json says so\)/,
    `${path}: "${src}" labelled untrained`,
  );
  const inline = inlineMedia(out);
  let videoFrames = 5; // a rollout's: the 4-step chunk + 1
  if (src.includes("generate(")) {
    // show()'s summary names the file generate() wrote (relative to the notebook's folder).
    const summary = out.map(plain).find((t) => /^[a-z-]+: \d+x\d+ .* · native:/.test(t));
    assert.ok(summary, `${path}: "${src}" summary line`);
    const [, mode, w, h, frames, sound, file] = summary.match(
      /^([a-z-]+): (\d+)x(\d+)(?: · (\d+) frames at \d+ fps)? · sound: (true|false) · (\S+) · native:/,
    ) ?? [];
    assert.equal(sound, String(withSound), `${path}: "${src}" sound as asked`);
    assert.ok(file, `${path}: summary "${summary}" names the file`);
    const written = resolve(cookbooks, dirname(path), file);
    assert.ok(existsSync(written), `${path}: ${written} exists`);
    assert.ok(Number(w) <= 512 && Number(h) <= 512, `${path}: ${w}x${h} is the 256p tier`);
    if (mode === "text-to-image") {
      const meta = await sharp(written).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["png", Number(w), Number(h)]);
    } else {
      const info = await probeVideo(written);
      assert.deepEqual([info.width, info.height, info.frameCount, info.hasAudio], [
        Number(w),
        Number(h),
        Number(frames),
        withSound,
      ]);
      if (withSound) {
        assert.deepEqual([info.audio?.codec, info.audio?.sampleRate, info.audio?.channels], ["aac", 48000, 2]);
      }
      assert.ok([5, 9].includes(info.frameCount), `${path}: ${info.frameCount} frames (the tiny caps)`);
      videoFrames = info.frameCount;
    }
    assert.equal(inline.length, 1, `${path}: "${src}" shows its media inline`);
  } else {
    // Rollouts: a 4-step chunk charted; the predicted video (not for inverse dynamics) is 5 frames.
    const summary = out.map(plain).find((t) => / · native:/.test(t));
    assert.match(summary ?? "", / · 4 \w+ steps × \d+D/, `${path}: "${src}" a 4-step chunk`);
    assert.ok(out.some((o) => o.data?.["application/vnd.plotly.v1+json"]), `${path}: "${src}" actions plotted`);
    assert.equal(inline.length, path.includes("inverse_dynamics") ? 0 : 1, `${path}: "${src}" rollout video`);
  }
  for (const m of inline) {
    const file = writeInline(m);
    if (m.ext === "png") assert.equal((await sharp(file).metadata()).format, "png", `${path}: inline PNG decodes`);
    else assert.equal((await probeVideo(file)).frameCount, videoFrames, `${path}: inline MP4 probes`);
  }
}

const notebooks = readdirSync(cookbooks, { recursive: true, encoding: "utf8" })
  .filter((p) => p.endsWith(".ipynb") && !p.includes(".tslab.") && !p.includes(".ipynb_checkpoints"))
  .sort();

let server: TestServer;
const served = { mp4: new Uint8Array(), png: new Uint8Array() };

before(async () => {
  await run("bash", [join(repo, "scripts", "build-bundle.sh")], { cwd: repo });
  await run("bash", [join(repo, "kernel", "install.sh")], { cwd: repo });
  await run(process.execPath, ["--import", "tsx", join(repo, "assets", "make.ts")], { cwd: repo });
  served.mp4 = new Uint8Array(readFileSync(join(repo, "assets", "videos", "pick_place.mp4")));
  served.png = new Uint8Array(readFileSync(join(repo, "assets", "images", "tabletop.png")));
});
after(async () => {
  await server?.close();
  if (!process.env.COSMOS_KEEP_COOKBOOK_TEST_DIR) rmSync(dir, { recursive: true, force: true });
});

/** The notebook a newcomer reads first and the main job runs (scripts/main.sh): one grounding call, one text-to-video. */
const QUICKSTART = QUICKSTART_PATH;

test("the committed notebooks are what cookbooks/make.ts writes, one per workflow", async () => {
  await run(process.execPath, ["--import", "tsx", join(cookbooks, "make.ts"), "--check"], { cwd: repo });
  assert.deepEqual(notebooks, [QUICKSTART, ...Object.keys(INPUTS)].sort());
});

test("the exported HTML (nbconvert) of every notebook: its title as <h1>, long code lines wrapped", async () => {
  const paths = readdirSync(cookbooks, { recursive: true, encoding: "utf8" }).filter((p) =>
    p.endsWith(".ipynb") && !p.includes(".ipynb_checkpoints")
  ).sort();
  const htmlDir = join(dir, "html");
  await run("/usr/bin/jupyter", [
    "nbconvert",
    "--to",
    "html",
    "--output-dir",
    htmlDir,
    ...paths.map((p) => join(cookbooks, p)),
  ], { env: env(), maxBuffer: 16 << 20 });
  for (const p of paths) {
    const nb = JSON.parse(readFileSync(join(cookbooks, p), "utf8")) as { cells: Cell[] };
    const title = str(nb.cells[0].source).split("\n")[0].replace(/^# /, "");
    const page = readFileSync(join(htmlDir, p.split("/").at(-1)!.replace(/\.ipynb$/, ".html")), "utf8");
    const h1 = page.match(/<h1 id="[^"]*">(.*?)<a class="anchor-link"/)?.[1];
    assert.equal(
      h1 &&
        h1.replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n))).replace(/&lt;/g, "<").replace(
          /&gt;/g,
          ">",
        ).replace(/&amp;/g, "&"),
      title,
      `${p}: the title is the page's <h1>, not a code block`,
    );
  }
  // In a real browser, no code line of the widest notebook overflows its box: long lines wrap.
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
    await page.goto(`file://${join(htmlDir, "forward_dynamics.html")}`);
    const overflow = await page.$$eval(
      ".jp-InputArea-editor .highlight pre",
      (pres) => pres.map((e) => e.scrollWidth - e.clientWidth),
    );
    assert.ok(overflow.length > 5, "code cells found");
    assert.deepEqual(overflow.filter((px) => px > 1), [], "code lines wrap instead of overflowing");
  } finally {
    await browser.close();
  }
});

describe("every cookbook, no backend configured (Deno kernel)", () => {
  test(`${QUICKSTART}: the mini Reasoner's boxes on the right objects, the mini Generator's text-to-video`, async () => {
    const cells = await execute(QUICKSTART, "deno");
    const lines = all(cells).map(plain).filter((t) => t.startsWith("backend: "));
    assert.equal(lines.length, 2, "a backend line per call");
    assert.match(lines[0], /^backend: native:\w+ \(.*checkpoints\/mini-reasoner\) · embedded native engine/);
    assert.ok(
      notes(cells, "info").some((o) =>
        plain(o).includes("a mini model trained by this project on a synthetic world, not Cosmos 3")
      ),
      "says the Reasoner is the mini model, not Cosmos 3",
    );
    const calls = cells.filter((c) => c.cell_type === "code" && CALL.test(str(c.source)));
    assert.deepEqual(calls.map((c) => str(c.source).match(CALL)?.[2]), ["reason", "generate"]);
    // Grounding: every object of the still found, its box on the true one, and the boxes drawn over the image.
    const truth = scene().world.smallImage.boxes;
    const got = parseAnswer("grounding_2d", answerOf(QUICKSTART, calls[0]));
    assert.equal(got.kind, "boxes", "boxes parse");
    for (const ref of truth) {
      const box = got.kind === "boxes" ? got.boxes.find((b) => b.label === ref.label) : undefined;
      assert.ok(box, `a box labelled "${ref.label}"`);
      const overlap = iou(box.box as [number, number, number, number], ref.box);
      assert.ok(overlap >= 0.5, `"${ref.label}" IoU ${overlap.toFixed(3)} with the true box (>= 0.5)`);
    }
    assert.ok(
      displays(calls[0]).some((o) => elements(html(o), "rect", "cosmos-box-rect").length === truth.length),
      "the parsed boxes drawn over the image",
    );
    // Text-to-video on the mini Generator: a 320x192 MP4 of 17 frames, the request shown as sent, the notes.
    assert.match(lines[1], /^backend: native:\w+ \(.*checkpoints\/mini-generator\) · embedded native engine/);
    await assertGeneratorRan(QUICKSTART, cells, [calls[1]]);
  });

  for (const path of Object.keys(INPUTS)) {
    test(path, async () => {
      const cells = await execute(path, "deno");
      assertInputs(path, cells);
      await assertHonestWithoutBackend(path, cells);
    });
  }
});

describe("a sample of Reasoner notebooks and every Generator / action notebook against the strict local servers (not a model)", () => {
  let reasonerEnv: Record<string, string>;
  let generatorEnv: Record<string, string>;
  before(async () => {
    server = await startTestServer({
      mp4: served.mp4,
      png: served.png,
      // The strict server answers action jobs with a chunk of the requested width and length.
      models: ["nvidia/Cosmos3-Nano"],
    });
    reasonerEnv = { COSMOS_REASONER_BACKEND: `${server.url}/v1` };
    generatorEnv = { COSMOS_GENERATOR_BACKEND: server.url };
  });

  test("caption: the streamed caption comes back over SSE", async () => {
    server.behaviour.chat = {
      content: "A yellow robot arm lifts a red cube and drops it into a blue bowl.",
      chunkChars: 4,
    };
    const before = server.requests.length;
    const cells = await execute("reasoner/caption.ipynb", "deno", reasonerEnv, "server");
    assert.match(backendLine(cells), new RegExp(`^backend: remote:${server.url}/v1 · vLLM / NIM server`));
    const out = outputsOf(cells, "await show(reason(request, options))");
    assert.ok(
      out.some((o) =>
        /<div class="cosmos-answer"[^>]*>A yellow robot arm lifts a red cube and drops it into a blue bowl\.<\/div>/
          .test(html(o))
      ),
    );
    // The streamed answer is the only one: show() adds what was parsed, not the text again.
    assert.equal(
      all(cells).filter((o) => html(o).includes('class="cosmos-answer"')).length,
      1,
      "the answer is shown once",
    );
    assert.ok(out.some((o) => plain(o).startsWith("parsed as text · finish: ")));
    const chat = server.requests.slice(before).find((r) => r.path === "/v1/chat/completions");
    const body = chat?.json as {
      stream: boolean;
      messages: { content: { type: string; video_url?: { url: string } }[] }[];
    };
    assert.equal(body.stream, true);
    assert.ok(
      body.messages[1].content.some((p) =>
        p.type === "video_url" && (p.video_url?.url ?? "").startsWith("data:video/mp4;base64,")
      ),
    );
    assert.equal(notes(cells, "untrained").length, 0, "no untrained warning for a server");
  });

  test("2D grounding: the parsed boxes are drawn over the image", async () => {
    server.behaviour.chat = {
      content:
        '```json\n[{"bbox_2d": [361, 517, 445, 663], "label": "red cube"}, {"bbox_2d": [589, 579, 757, 717], "label": "blue bowl"}, {"bbox_2d": [180, 479, 233, 667], "label": "green can"}]\n```',
    };
    const cells = await execute("reasoner/grounding_2d.ipynb", "deno", reasonerEnv, "server");
    const out = outputsOf(cells, "await show(reason(request, options)");
    const rects = out.flatMap((o) => elements(html(o), "rect", "cosmos-box-rect"));
    assert.equal(rects.length, 3);
    assert.ok(out.some((o) => plain(o).startsWith("parsed as boxes")));
  });

  test("temporal localization: the parsed events are drawn on a timeline", async () => {
    server.behaviour.chat = {
      content:
        '[{"start": 0.0, "end": 1.2, "event": "arm reaches over the cube"}, {"start": 1.2, "end": 3.0, "event": "arm carries the cube"}, {"start": 3.0, "end": 4.0, "event": "cube drops into the bowl"}]',
    };
    const cells = await execute("reasoner/temporal_localization.ipynb", "deno", reasonerEnv, "server");
    const out = outputsOf(cells, "await show(reason(request, options)");
    assert.equal(out.flatMap((o) => elements(html(o), "rect", "cosmos-event")).length, 3);
    assert.ok(out.some((o) => plain(o).startsWith("parsed as events (3 events)")));
  });

  /**
   * The Generator requests one notebook sent to the strict vLLM-Omni server: every one accepted
   * (a 200: the real server's rules, test/remote/_vllm_omni.ts) and nothing in it that the real
   * server would silently drop.
   */
  function generatorRequests(since: number, path: string): Recorded[] {
    const recs = server.requests.slice(since).filter((r) =>
      r.method === "POST" && /^\/v1\/(videos|images)/.test(r.path)
    );
    assert.ok(recs.length > 0, `${path}: the notebook called the server`);
    for (const r of recs) {
      assert.equal(r.status, 200, `${path}: ${r.path} accepted by the strict server`);
      assert.deepEqual(r.dropped, [], `${path}: nothing the real server would drop`);
    }
    return recs;
  }
  const extraOf = (r: Recorded) =>
    JSON.parse(r.form?.find((p) => p.name === "extra_params")?.text ?? "{}") as Record<string, unknown>;
  const field = (r: Recorded, n: string) => r.form?.find((p) => p.name === n)?.text;
  const videosShown = (out: Output[]) =>
    out.filter((o) => elements(html(o), "video", "cosmos-video").length === 1).length;

  test("text-to-image: the PNG the server sent is shown", async () => {
    const before = server.requests.length;
    const cells = await execute("generator/text_to_image.ipynb", "deno", generatorEnv, "server");
    const [req] = generatorRequests(before, "text_to_image");
    assert.equal(req.path, "/v1/images/generations");
    assert.deepEqual(req.json, {
      prompt: (req.json as { prompt: string }).prompt,
      n: 1,
      size: "1280x720",
      response_format: "b64_json",
      seed: 1234,
    });
    const out = outputsOf(cells, "await show(generate(request, options))");
    assert.ok(out.some((o) => o.data?.["image/png"] === Buffer.from(served.png).toString("base64")), "the served PNG");
  });

  test("text-to-video and with sound: the MP4s the server sent play inline; only the set fields are sent", async () => {
    const before = server.requests.length;
    const cells = await execute("generator/text_to_video.ipynb", "deno", generatorEnv, "server");
    assert.match(backendLine(cells), new RegExp(`^backend: remote:${server.url} · vLLM-Omni server`));
    const out = outputsOf(cells, "await show(generate(request, options))");
    const video = out.find((o) => elements(html(o), "video", "cosmos-video").length === 1);
    assert.ok(video, "a video player");
    assert.ok(
      html(video).includes(`data:video/mp4;base64,${Buffer.from(served.mp4).toString("base64")}`),
      "the served MP4, inline",
    );
    assert.ok(out.some((o) => /^text-to-video: 832x480 · 96 frames at 24 fps · sound: true/.test(plain(o))));
    const [req] = generatorRequests(before, "text_to_video");
    // The world's prompt at the mini Generator's size and length (a server runs it as written: no mini caps).
    assert.deepEqual(req.form?.map((p) => p.name), ["prompt", "size", "num_frames", "fps", "seed"]);
    assert.equal(field(req, "prompt"), scene().world.push.prompt);
    assert.deepEqual([field(req, "size"), field(req, "num_frames"), field(req, "fps")], ["320x192", "17", "10"]);
    // The pipeline ran the model's video defaults, as the notebook's validated request showed.
    assert.deepEqual([req.plan?.steps, req.plan?.guidance, req.plan?.flowShift, req.plan?.numFrames], [35, 6, 10, 17]);
    const before2 = server.requests.length;
    const sound = await execute("generator/text_to_video_sound.ipynb", "deno", generatorEnv, "server");
    const reqs = generatorRequests(before2, "text_to_video_sound");
    assert.deepEqual(reqs.map((r) => field(r, "generate_sound")), ["true", undefined]);
    assert.equal(videosShown(all(sound)), 2);
  });

  test("image-to-video and video-to-video: the input uploaded, latent conditioning in extra_params, results play", async () => {
    let before = server.requests.length;
    const i2v = await execute("generator/image_to_video.ipynb", "deno", generatorEnv, "server");
    for (const r of generatorRequests(before, "image_to_video")) {
      assert.equal(r.form?.find((p) => p.name === "input_reference")?.contentType, "image/png"); // world_push_start.png
    }
    assert.equal(videosShown(outputsOf(i2v, "await show(generate(")), 2);
    before = server.requests.length;
    const v2v = await execute("generator/video_to_video.ipynb", "deno", generatorEnv, "server");
    for (const r of generatorRequests(before, "video_to_video")) {
      assert.deepEqual(extraOf(r), { condition_frame_indexes_vision: [0, 1], condition_video_keep: "first" });
      assert.equal(r.form?.find((p) => p.name === "input_reference")?.contentType, "video/mp4");
    }
    assert.equal(videosShown(outputsOf(v2v, "await show(generate(")), 2);
  });

  test("policy: video and predicted actions for DROID 10D, AV 9D, camera 9D and egocentric 57D", async () => {
    const before = server.requests.length;
    const cells = await execute("action/policy.ipynb", "deno", generatorEnv, "server");
    const jobs = generatorRequests(before, "policy");
    assert.deepEqual(
      jobs.map((j) => {
        const e = extraOf(j);
        return [e.action_mode, e.domain_name, e.raw_action_dim, e.action_chunk_size, field(j, "num_frames")];
      }),
      [
        ["policy", EMBODIMENTS.droid.domainName, 10, 16, "17"],
        ["policy", EMBODIMENTS.av.domainName, 9, 16, "17"],
        ["policy", EMBODIMENTS.camera_pose.domainName, 9, 16, "17"],
        ["policy", EMBODIMENTS.egocentric.domainName, 57, 16, "17"],
      ],
    );
    for (const [name, dim] of [["droid", 10], ["av", 9], ["camera", 9], ["egocentric", 57]] as const) {
      const out = outputsOf(cells, `rollout(${name}, `); // droid: on options (the mini Generator by default), others on tinyOptions
      assert.ok(out.some((o) => elements(html(o), "video", "cosmos-video").length === 1), `${name}: rollout video`);
      const plots = out.map((o) => o.data?.["application/vnd.plotly.v1+json"] as { data: unknown[] } | undefined)
        .filter((p) => p !== undefined);
      assert.equal(plots[0]?.data.length, dim, `${name}: one trace per action dimension`);
      assert.ok(out.some((o) => plain(o).includes(`16 predicted steps × ${dim}D`)));
    }
  });

  test("forward dynamics: each chunk sent inline as extra_params.action, frames = rows + 1; the videos play", async () => {
    const before = server.requests.length;
    const cells = await execute("action/forward_dynamics.ipynb", "deno", generatorEnv, "server");
    const reqs = generatorRequests(before, "forward_dynamics");
    assert.deepEqual(reqs.map((r) => r.path), ["/v1/videos/sync", "/v1/videos/sync", "/v1/videos/sync"]);
    for (const r of reqs) {
      const e = extraOf(r);
      const rows = e.action as number[][];
      assert.ok(Array.isArray(rows) && rows.length > 0, "the chunk inline");
      assert.equal(e.action_chunk_size, rows.length);
      assert.equal(field(r, "num_frames"), String(rows.length + 1));
      assert.equal(rows[0].length, e.raw_action_dim);
      assert.equal("action_path" in e, false);
    }
    assert.equal(videosShown(all(cells)) >= 3, true);
  });

  test("inverse dynamics: the video uploaded, the recovered actions plotted", async () => {
    const before = server.requests.length;
    const cells = await execute("action/inverse_dynamics.ipynb", "deno", generatorEnv, "server");
    const jobs = generatorRequests(before, "inverse_dynamics");
    assert.deepEqual(jobs.map((j) => [extraOf(j).action_mode, extraOf(j).domain_name]), [
      ["inverse_dynamics", "droid_lerobot"],
      ["inverse_dynamics", "av"],
      ["inverse_dynamics", "camera_pose"],
    ]);
    for (const [name, dim] of [["droid", 10], ["av", 9], ["camera", 9]] as const) {
      const out = outputsOf(cells, `rollout(${name}, `); // droid: on options (the mini Generator by default), others on tinyOptions
      const plots = out.map((o) => o.data?.["application/vnd.plotly.v1+json"] as { data: unknown[] } | undefined)
        .filter((p) => p !== undefined);
      assert.equal(plots[0]?.data.length, dim, `${name}: one trace per action dimension`);
    }
  });

  test("tslab kernel (CommonJS bundle): the caption variant streams and renders", async () => {
    server.behaviour.chat = {
      content: "A robot arm puts a red cube into a blue bowl.",
      reasoningContent: "The arm moves left, grasps, lifts.",
      chunkChars: 5,
    };
    const cells = await execute("reasoner/caption.tslab.ipynb", "tslab", reasonerEnv, "server");
    assert.match(backendLine(cells), /^backend: remote:http:\/\/127\.0\.0\.1:\d+\/v1 · vLLM \/ NIM server/);
    assert.ok(all(cells).some((o) => elements(html(o), "video", "cosmos-video").length === 1), "input video");
    const out = outputsOf(cells, "await show(reason(request, options))");
    assert.ok(
      out.some((o) =>
        /<details class="cosmos-reasoning".*The arm moves left, grasps, lifts\..*<\/details>/s.test(html(o))
      ),
    );
    assert.ok(
      out.some((o) =>
        /<div class="cosmos-answer"[^>]*>A robot arm puts a red cube into a blue bowl\.<\/div>/.test(html(o))
      ),
    );
  });
});
