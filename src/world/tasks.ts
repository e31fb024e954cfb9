/**
 * What a world sample teaches and tests: for each Reasoner workflow, the prompt (the one
 * `reason()` sends, or the cookbooks' style) and the reference answer in the format the parsers
 * read (src/reasoner/parse.ts): Qwen3-VL `bbox_2d` boxes on the 0–1000 grid, events with start
 * and end seconds, a plausibility label, 2D waypoints on the 0–1000 grid, per-subject
 * descriptions. Also the Generator's text prompt for a clip ("The red cube slides to the left.").
 *
 * Shared by the training-data writer (tools/train/world_data.ts) and the held-out evaluation.
 *
 * @example
 * ```ts
 * import { makeSample, renderClip } from "./sample.ts";
 * import { groundingTask, temporalTask } from "./tasks.ts";
 * const sample = makeSample(3, { frames: 33, fps: 8 });
 * temporalTask(sample).answer; // '[{"start": 1.12, "end": 1.62, "event": "the robot arm picks up …"}, …]'
 * const clip = renderClip(sample, { width: 320, height: 192 }, [0]);
 * groundingTask(sample, clip.views[0], clip.size, 0).answer; // '```json\n[{"bbox_2d": [...], "label": "red cube"}, …]\n```'
 * ```
 * @module
 */
import { z } from "zod";
import { ObjectColor, ObjectShape } from "./palette.ts";
import { REASON_TASKS } from "../schema/reason_request.ts";
import { cameraForFrame, type ObjectView, type Size } from "./render.ts";
import { project } from "./geometry.ts";
import { gridBox, gridPoint, SMALL, type WorldSample } from "./sample.ts";
import { Prng, subSeed } from "./prng.ts";
import { DIRECTION_WORDS } from "./sim.ts";
import type { WorldEvent } from "./events.ts";

/** Objects showing fewer pixels than this are not asked about (hidden behind the arm). */
export const MIN_VISIBLE_PIXELS = 24;

/** One Reasoner item: the prompt, the reference answer and what it parses to. */
export interface TaskItem<R> {
  prompt: string;
  answer: string;
  reference: R;
}

const list = (xs: string[]) => xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`;
const withArticle = (label: string) => `${/^[aeiou]/.test(label) ? "an" : "a"} ${label}`;
const round2 = (v: number) => Math.round(v * 100) / 100;
const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1) + ".";

/** The camera in words. */
function cameraWords(sample: WorldSample): string {
  const sweep = sample.scene.camera.toDeg - sample.scene.camera.fromDeg;
  if (sweep === 0) return "The camera stays still.";
  // a growing orbit angle moves the camera towards +x, its right (geometry.ts cameraAt)
  return `The camera slowly circles the table to the ${sweep > 0 ? "right" : "left"}.`;
}

/** A detailed caption of the clip: the table, the objects, what happens, the camera. */
export function captionOf(sample: WorldSample): string {
  const objs = sample.scene.objects.map((o) => withArticle(o.label));
  const events = sample.events.map((e) => sentence(e.label));
  const what = events.length ? events.join(" ") : "Nothing on the table moves.";
  return `A grey robot arm with a dark gripper works over a wooden table with ${list(objs)} on it. ${what} ${
    cameraWords(sample)
  }`;
}

/** caption: the workflow's default prompt, the caption. */
export function captionTask(sample: WorldSample): TaskItem<string> {
  const text = captionOf(sample);
  return { prompt: REASON_TASKS.caption.defaultPrompt, answer: text, reference: text };
}

/** temporal localization: the default prompt (JSON events), the events with seconds to 0.01. */
export function temporalTask(sample: WorldSample): TaskItem<{ start: number; end: number; label: string }[]> {
  const ref = sample.events.map((e: WorldEvent) => ({ start: round2(e.start), end: round2(e.end), label: e.label }));
  const answer = `[${
    ref.map((e) => `{"start": ${e.start}, "end": ${e.end}, "event": ${JSON.stringify(e.label)}}`).join(", ")
  }]`;
  return { prompt: REASON_TASKS.temporal_localization.defaultPrompt, answer, reference: ref };
}

/**
 * How a physical-plausibility answer explains its label:
 * - `short`: the label, then one general sentence (plausible) or the violation (implausible);
 * - `timed`: the label, then what moved when and what moved it (each event with its seconds and its cause), or the
 *   violation with its second;
 * - `reasoned`: those sentences first, then "So the motion is <label>." (the label decided after the account).
 *
 * The mini Reasoner at `short` reads a carried or pushed object's motion as a jump as often as it misses a real one
 * (tools/train/README.md, "Plausibility at 4 fps"): the longer answers make it say which motions the gripper causes.
 */
export const PlausibilityAnswerStyle = z.enum(["short", "timed", "reasoned"]);
export type PlausibilityAnswerStyle = z.infer<typeof PlausibilityAnswerStyle>;

/** The cause of an event the arm makes, where its label does not say it. */
const EVENT_CAUSE: Partial<Record<WorldEvent["kind"], string>> = {
  pushed: ", pushed by the gripper",
  fell: ", after the gripper lets go",
};

const atSeconds = (v: number) => v.toFixed(1);

/**
 * What moved in the clip, when, and what moved it (the arm's events); then, in an implausible clip, the violation,
 * when, and that nothing touched the object. Both labels account for every motion: what tells them apart is the one
 * motion without a cause.
 */
function plausibilityAccount(sample: WorldSample): string {
  const p = sample.plausibility;
  const caused = sample.events.filter((e) => e.kind !== "teleported" && e.kind !== "floated").map((e) => ({
    at: e.start,
    text: sentence(`${e.label} from ${atSeconds(e.start)} to ${atSeconds(e.end)} s${EVENT_CAUSE[e.kind] ?? ""}`),
  }));
  if (p.label === "implausible") {
    const v = p.violations[0];
    if (!v) return [...caused.map((c) => c.text), "An object moves without a cause."].join(" ");
    // teleports and floats are made on objects that nothing holds or touches (plausibility.ts freeFrom)
    const alone = v.kind === "pass_through" ? "" : ", and nothing touches it";
    const at = v.frame / sample.fps;
    const odd = { at, text: sentence(`${v.detail} at ${atSeconds(at)} s${alone}`) };
    // in the order things happen (a stable sort: the arm's events keep theirs)
    return [...caused, odd].sort((a, b) => a.at - b.at).map((c) => c.text).join(" ");
  }
  return caused.length
    ? `${caused.map((c) => c.text).join(" ")} Nothing moves by itself.`
    : "Nothing on the table moves.";
}

/** physical plausibility: the default prompt, the label and why, in one of {@link PlausibilityAnswerStyle}'s forms. */
export function plausibilityTask(
  sample: WorldSample,
  style: PlausibilityAnswerStyle = "short",
): TaskItem<"plausible" | "implausible"> {
  const p = sample.plausibility;
  const label = p.label;
  const prompt = REASON_TASKS.physical_plausibility.defaultPrompt;
  if (style === "short") {
    const why = label === "plausible"
      ? "Objects move only when the robot arm moves them, and released objects fall onto the table."
      : sentence(sample.plausibility.violations[0]?.detail ?? "an object moves without a cause");
    return { prompt, answer: `${label}. ${why}`, reference: label };
  }
  const account = plausibilityAccount(sample);
  const answer = style === "timed" ? `${label}. ${account}` : `${account} So the motion is ${label}.`;
  return { prompt, answer, reference: label };
}

/** The objects that show in a frame (enough pixels), with their grid boxes. */
export function visibleObjects(
  sample: WorldSample,
  views: readonly ObjectView[],
  size: Size,
): { label: string; box: [number, number, number, number] }[] {
  return sample.scene.objects.flatMap((o, i) => {
    const v = views[i];
    return v.box && v.pixels >= MIN_VISIBLE_PIXELS ? [{ label: o.label, box: gridBox(v.box, size) }] : [];
  });
}

const boxesJson = (boxes: { label: string; box: number[] }[]) =>
  "```json\n[" + boxes.map((b) =>
    `{"bbox_2d": [${b.box.join(", ")}], "label": ${JSON.stringify(b.label)}}`
  ).join(", ") + "]\n```";

/**
 * 2D grounding on a frame: half the items ask for one object, half for every object (from
 * `variant`'s seed); the answer is Qwen3-VL's JSON of `bbox_2d` boxes on the 0–1000 grid. With `colorShare`, that
 * share of the items (drawn apart, so the others are the same items as without it) asks instead for every object of
 * one colour that shows ("every red object": one box, or two in a `repeatColor` scene) — the question the first-frame
 * check of generated frames asks to count a colour drawn twice.
 */
export function groundingTask(
  sample: WorldSample,
  views: readonly ObjectView[],
  size: Size,
  variant: number,
  options: { colorShare?: number } = {},
): TaskItem<{ label: string; box: [number, number, number, number] }[]> {
  const rng = new Prng(subSeed(sample.seed, `grounding:${variant}`));
  const visible = visibleObjects(sample, views, size);
  const byColor = new Prng(subSeed(sample.seed, `grounding-color:${variant}`));
  if (visible.length > 0 && options.colorShare && byColor.chance(options.colorShare)) {
    const color = byColor.pick(visible).label.split(" ")[0];
    const asked = visible.filter((b) => b.label.startsWith(`${color} `));
    return { prompt: groundingPrompt(colorGroundingWhat(color)), answer: boxesJson(asked), reference: asked };
  }
  const one = visible.length > 0 && rng.chance(0.5);
  const asked = one ? [rng.pick(visible)] : visible;
  const names = one ? `the ${asked[0].label}` : "every object on the table";
  return { prompt: groundingPrompt(names), answer: boxesJson(asked), reference: asked };
}

/** What a grounding prompt asks for every object of one colour: "every red object". */
export function colorGroundingWhat(color: string): string {
  return `every ${color} object`;
}

/** The grounding prompt the mini Reasoner learnt, for "the red cube" or "every object on the table". */
export function groundingPrompt(what: string): string {
  return `Locate ${what}. Answer as JSON: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}].`;
}

/** Where an object is on the table, in words (seen from the camera at the start). */
function placeWords(x: number, y: number): string {
  const side = x < -0.1 ? "on the left" : x > 0.1 ? "on the right" : "in the middle";
  const depth = y < 0.3 ? "near the camera" : y > 0.45 ? "towards the back" : "";
  return [side, depth].filter(Boolean).join(", ");
}

const SHAPE_WORDS = { cube: "a cube with flat faces", ball: "a round ball", cylinder: "an upright cylinder" } as const;

/**
 * describe anything on frame `frame` (whose `views` are given): 1–3 visible objects marked (grid
 * boxes; the writer draws the marks), each described by colour, shape, material and place.
 */
export function describeTask(
  sample: WorldSample,
  views: readonly ObjectView[],
  size: Size,
  variant: number,
  frame = 0,
): TaskItem<{ index: number; label: string; description: string }[]> & {
  subjects: { box: [number, number, number, number] }[];
} {
  const rng = new Prng(subSeed(sample.seed, `describe:${variant}`));
  const visible = sample.scene.objects.filter((o, i) => views[i].box && views[i].pixels >= MIN_VISIBLE_PIXELS);
  const chosen = rng.shuffle(visible).slice(0, Math.max(1, rng.int(1, Math.min(3, visible.length))));
  const ref = chosen.map((o, k) => {
    const st = sample.trace.frames[frame].objects[o.id];
    const where = st.held
      ? "held up by the robot's gripper"
      : st.pos[2] > 0.002
      ? "falling towards the table"
      : `standing ${placeWords(st.pos[0], st.pos[1])} of the table`;
    return {
      index: k + 1,
      label: o.label,
      description: `${withArticle(o.label)}: ${o.color}, ${SHAPE_WORDS[o.shape]}, matte plastic, ${where}`,
    };
  });
  const subjects = chosen.map((o) => ({ box: gridBox(views[o.id].box!, size) }));
  const answer = `[${
    ref.map((r) => `{"index": ${r.index}, "description": ${JSON.stringify(r.description)}}`).join(", ")
  }]`;
  return { prompt: "Describe each marked subject: its colour, shape and material.", answer, reference: ref, subjects };
}

/** Every how many action rows a waypoint is given (a 16-row chunk gives 8 waypoints). */
const WAYPOINT_STRIDE = 2;

/**
 * action CoT / next action on the first frame: the scenario's instruction, a one-line plan, and
 * the gripper's path (the action chunk's positions seen by the first frame's camera) as 2D
 * waypoints on the 0–1000 grid.
 */
export function actionTask(sample: WorldSample, size: Size): TaskItem<[number, number][]> {
  const cam = cameraForFrame(sample.scene, 0, sample.frames, size);
  const rows = sample.actions.filter((_, k) => (k + 1) % WAYPOINT_STRIDE === 0 || k === sample.actions.length - 1);
  const points = rows.map((r) => {
    const p = project(cam, [r[0], r[1], r[2]]);
    return gridPoint(p.u, p.v, size);
  });
  const s = sample.scenario;
  const target = sample.scene.objects[s.target].label;
  const plan = s.kind === "push"
    ? `Close the gripper, lower it behind the ${target} and push it ${
      DIRECTION_WORDS[s.direction]
    }, then lift the gripper.`
    : s.kind === "drop"
    ? `Move above the ${target}, lower the gripper, close it, lift the ${target} high, open the gripper to drop it.`
    : `Move above the ${target}, lower the gripper, close it, lift and carry the ${target} ${
      DIRECTION_WORDS[s.direction]
    }, lower it and open the gripper.`;
  const prompt =
    `${s.instruction} Answer with the gripper's 2D waypoints as JSON: [[x, y], ...] on the 0-1000 image grid.`;
  return { prompt, answer: `${plan}\n[${points.map((p) => `[${p[0]}, ${p[1]}]`).join(", ")}]`, reference: points };
}

/** One event of a generator training record: its span, words, the object's label and the push direction. */
export interface GeneratorEventRecord {
  start: number;
  end: number;
  label: string;
  object: string;
  direction: WorldEvent["direction"];
}

/**
 * The events of a clip as the generator training records carry them (`world_data.ts`'s generator.jsonl and
 * `generator_data.ts`'s samples.jsonl, which the trainer and the evaluation read alike).
 *
 * @example
 * ```ts
 * import { generatorEvents, makeSample } from "./mod.ts";
 * for (const e of generatorEvents(makeSample(7, { frames: 17, fps: 10 }))) console.log(e.object, e.label);
 * ```
 */
export function generatorEvents(sample: WorldSample): GeneratorEventRecord[] {
  return sample.events.map((e) => ({
    start: e.start,
    end: e.end,
    label: e.label,
    object: sample.scene.objects[e.object].label,
    direction: e.direction,
  }));
}

/** Where an object stands in a clip's first frame, as a {@link generatorPrompt} with `layout` says it. */
export interface ObjectPlace {
  /** Its centre's column: the left 40% of the frame, the right 40%, or the middle fifth between. */
  across: "left" | "middle" | "right";
  /** Its centre's row: above 58% of the frame's height (further from the camera) or below. */
  depth: "back" | "front";
}

/**
 * The bounds of {@link ObjectPlace}, as shares of the frame: chosen so that over the world's scenes each column
 * holds about a third of the objects and each row about half (their centres span 14-86% of the width and
 * 35-93% of the height of a first frame).
 */
export const PLACE_BOUNDS = Object.freeze({ left: 0.4, right: 0.6, back: 0.58 });

/**
 * Where each object of a clip stands in its first frame: the centre of its footprint at half its height, seen by
 * frame 0's camera (the aspect of the world's sizes; the same place at 320×192 or 832×480).
 *
 * @example
 * ```ts
 * import { makeSample, objectPlaces } from "./mod.ts";
 * objectPlaces(makeSample(7, { frames: 17, fps: 10 })); // e.g. [{ across: "left", depth: "front" }, …]
 * ```
 */
export function objectPlaces(sample: WorldSample, size: Size = SMALL): ObjectPlace[] {
  const cam = cameraForFrame(sample.scene, 0, sample.frames, size);
  return sample.scene.objects.map((o) => {
    const p = project(cam, [o.start[0], o.start[1], o.start[2] + o.height / 2]);
    return placeAt(p.u / size.width, p.v / size.height);
  });
}

/**
 * The {@link ObjectPlace} of a point given as shares of the frame's width and height (0-1, from the top left), by
 * {@link PLACE_BOUNDS}: e.g. a box's centre.
 *
 * @example
 * ```ts
 * import { placeAt } from "./mod.ts";
 * placeAt(0.2, 0.8); // { across: "left", depth: "front" }
 * ```
 */
export function placeAt(u: number, v: number): ObjectPlace {
  return {
    across: u < PLACE_BOUNDS.left ? "left" : u > PLACE_BOUNDS.right ? "right" : "middle",
    depth: v < PLACE_BOUNDS.back ? "back" : "front",
  };
}

/** Describe-anything's words for a place ({@link describeTask}), in the frame; {@link promptPlaces} reads them back. */
const ACROSS_WORDS = { left: "on the left", middle: "in the middle", right: "on the right" } as const;
const DEPTH_WORDS = { back: "towards the back", front: "near the camera" } as const;

/** "on the left towards the back". */
const framePlaceWords = (p: ObjectPlace) => `${ACROSS_WORDS[p.across]} ${DEPTH_WORDS[p.depth]}`;

/** Options of {@link generatorPrompt}. */
export interface GeneratorPromptOptions {
  /**
   * Say where each object stands in the first frame ("a red cube on the left towards the back", {@link objectPlaces}):
   * a denser scene description, as Cosmos 3's prompt upsampling writes, so the drawing of the first frame does
   * not have to guess each object's place. Default false (the prompt the committed mini Generator was trained on).
   */
  layout?: boolean;
}

/**
 * The Generator's prompt for a clip: the scene and what moves, e.g. "A wooden table with a red cube and a blue
 * ball, a grey robot arm above it. The red cube slides to the left."; with `layout`, "… with a red cube on the
 * left towards the back and a blue ball in the middle near the camera, a grey robot arm above it. …".
 */
export function generatorPrompt(sample: WorldSample, options: GeneratorPromptOptions = {}): string {
  const places = options.layout ? objectPlaces(sample) : undefined;
  const objs = sample.scene.objects.map((o, i) =>
    places ? `${withArticle(o.label)} ${framePlaceWords(places[i])}` : withArticle(o.label)
  );
  const events = sample.events.map((e) => sentence(e.label));
  return `${sceneSentence(list(objs))} ${events.join(" ")}`.trim();
}

/** The scene sentence of a Generator prompt: "A wooden table with <objects>, a grey robot arm above it." */
const sceneSentence = (objects: string) => `A wooden table with ${objects}, a grey robot arm above it.`;
/**
 * The object {@link promptWithPlaces} adds to a prompt of events alone that names one object: the first here whose
 * colour the prompt does not name. The world's scenes hold 2-4 objects; asked for one, the mini Generator draws the
 * named colour twice (seen on its first frames), so the first-frame check passes none.
 */
const COMPANIONS = ["green ball", "red cube", "blue cylinder"] as const;
/** {@link sceneSentence} read back: the objects, then the rest of the prompt. */
const SCENE_SENTENCE_RE = /^\s*A wooden table with (.+?), a grey robot arm above it\.\s*(.*)$/is;

const placeOfWords = <K extends string>(words: Readonly<Record<K, string>>) =>
  new Map(Object.entries<string>(words).map(([place, w]) => [w, place as K]));
const ACROSS_OF_WORDS = placeOfWords<ObjectPlace["across"]>(ACROSS_WORDS);
const DEPTH_OF_WORDS = placeOfWords<ObjectPlace["depth"]>(DEPTH_WORDS);
/** Regex source of a world object's words, "red cube": two groups, colour and shape. */
const OBJECT_WORDS = `(${ObjectColor.options.join("|")}) (${ObjectShape.options.join("|")})`;
/** Regex source of a place's words, "on the left towards the back": two groups, across and depth. */
const PLACE_WORDS = `(${Object.values(ACROSS_WORDS).join("|")}) (${Object.values(DEPTH_WORDS).join("|")})`;
/** The label of {@link OBJECT_WORDS}' groups, "red cube". */
const labelOfWords = (color: string, shape: string) => `${color.toLowerCase()} ${shape.toLowerCase()}`;
/** The place of {@link PLACE_WORDS}' groups. */
const placeOfMatch = (across: string, depth: string): ObjectPlace => ({
  across: ACROSS_OF_WORDS.get(across.toLowerCase())!,
  depth: DEPTH_OF_WORDS.get(depth.toLowerCase())!,
});
const PLACED_OBJECT_RE = new RegExp(`\\ban? ${OBJECT_WORDS} ${PLACE_WORDS}\\b`, "gi");

/**
 * The places a prompt gives its objects, read back from a {@link generatorPrompt} with `layout` ("… a red cube on the
 * left towards the back …"): by object label ("red cube"). An object the prompt names without a place is absent,
 * and so is a label the prompt places twice in two different places (which of the two an event means is unknown).
 *
 * @example
 * ```ts
 * import { promptPlaces } from "./tasks.ts";
 * promptPlaces("A wooden table with a red cube on the left near the camera and a blue ball, a grey robot arm above it.");
 * // Map { "red cube" => { across: "left", depth: "front" } }
 * ```
 */
export function promptPlaces(prompt: string): Map<string, ObjectPlace> {
  const out = new Map<string, ObjectPlace>();
  const twice = new Set<string>();
  for (const m of prompt.matchAll(PLACED_OBJECT_RE)) {
    const label = labelOfWords(m[1], m[2]);
    const place = placeOfMatch(m[3], m[4]);
    const seen = out.get(label);
    if (seen && (seen.across !== place.across || seen.depth !== place.depth)) twice.add(label);
    out.set(label, place);
  }
  for (const label of twice) out.delete(label);
  return out;
}

/**
 * The places {@link promptWithPlaces} gives objects a prompt names without one, in order: an event's object first,
 * in the middle near the camera (room to move either way, and drawn large), the others around it.
 */
const UPSAMPLE_PLACES: readonly ObjectPlace[] = [
  { across: "middle", depth: "front" },
  { across: "left", depth: "back" },
  { across: "right", depth: "back" },
  { across: "left", depth: "front" },
  { across: "right", depth: "front" },
  { across: "middle", depth: "back" },
];

const SCENE_OBJECT_RE = new RegExp(`^an? ${OBJECT_WORDS}(?: ${PLACE_WORDS})?$`, "i");

/**
 * A prompt for a checkpoint trained on prompts with places (`cosmos-ts.json` `"prompt_places": true`) from one
 * that names its objects without places: the mini Generator's prompt upsampling, as Cosmos 3's expands a short
 * description into the dense one its Generator was trained on. Each object of the scene sentence ("A wooden table
 * with a red cube and a blue ball, a grey robot arm above it.") that has no place gets one of
 * {@link UPSAMPLE_PLACES} not yet taken, the events' objects first; a prompt of events alone ("The red cube slides
 * to the left.") gets the scene sentence, with the objects its events name, and one more ({@link COMPANIONS}) when
 * they are one, as the world's scenes never are. A prompt whose objects all have places, that names none of the
 * world's objects, or whose scene sentence lists something else is returned unchanged.
 *
 * @example
 * ```ts
 * import { promptWithPlaces } from "./tasks.ts";
 * promptWithPlaces("The red cube slides to the left.");
 * // "A wooden table with a red cube in the middle near the camera and a green ball on the left towards the back, a
 * // grey robot arm above it. The red cube slides to the left."
 * ```
 */
export function promptWithPlaces(prompt: string): string {
  const scene = SCENE_SENTENCE_RE.exec(prompt);
  const subjects = eventSubjects(scene ? scene[2] : prompt).map((s) => s.label);
  const objects: { label: string; place?: ObjectPlace }[] = [];
  if (scene) {
    for (const item of scene[1].split(/, | and /)) {
      const m = SCENE_OBJECT_RE.exec(item.trim());
      if (!m) return prompt;
      objects.push({ label: labelOfWords(m[1], m[2]), place: m[3] ? placeOfMatch(m[3], m[4]) : undefined });
    }
  }
  for (const label of subjects) if (!objects.some((o) => o.label === label)) objects.push({ label });
  if (objects.length === 0 || objects.every((o) => o.place)) return prompt;
  if (!scene && objects.length === 1) {
    const color = objects[0].label.split(" ")[0];
    objects.push({ label: COMPANIONS.find((c) => !c.startsWith(`${color} `))! });
  }
  const key = (p: ObjectPlace) => `${p.across}/${p.depth}`;
  const taken = new Set(objects.flatMap((o) => o.place ? [key(o.place)] : []));
  const free = UPSAMPLE_PLACES.filter((p) => !taken.has(key(p)));
  const order = [...objects].sort((a, b) => Number(!subjects.includes(a.label)) - Number(!subjects.includes(b.label)));
  for (const o of order) if (!o.place) o.place = free.shift() ?? UPSAMPLE_PLACES[0];
  const named = list(objects.map((o) => `${withArticle(o.label)} ${framePlaceWords(o.place!)}`));
  const rest = (scene ? scene[2] : prompt).trim();
  return `${sceneSentence(named)} ${rest}`.trim();
}

/** An object a Generator prompt's events name: its colour and shape. */
export interface PromptSubject {
  color: ObjectColor;
  shape: ObjectShape;
  /** "orange ball" (the world's object label). */
  label: string;
}

const SUBJECT_RE = new RegExp(`\\bthe ${OBJECT_WORDS}\\b`, "gi");

/**
 * The objects that the events of a {@link generatorPrompt} name, in order of first mention, once each: the scene
 * sentence names objects with "a"/"an", the events with "the" ("The orange ball slides to the right." → the orange
 * ball). What a first-frame check must find drawn (src/api/first_frame_check.ts); none for a prompt with no event.
 *
 * @example
 * ```ts
 * import { eventSubjects } from "./tasks.ts";
 * eventSubjects("A wooden table with a red cube and a blue ball, a grey robot arm above it. The red cube slides to the left.");
 * // [{ color: "red", shape: "cube", label: "red cube" }]
 * ```
 */
export function eventSubjects(prompt: string): PromptSubject[] {
  const out: PromptSubject[] = [];
  for (const m of prompt.matchAll(SUBJECT_RE)) {
    const color = ObjectColor.parse(m[1].toLowerCase());
    const shape = ObjectShape.parse(m[2].toLowerCase());
    const label = `${color} ${shape}`;
    if (!out.some((s) => s.label === label)) out.push({ color, shape, label });
  }
  return out;
}
