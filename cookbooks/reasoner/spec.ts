/**
 * The Reasoner notebooks (`cookbooks/reasoner/*.ipynb`, and the tslab variant of the caption one):
 * what each workflow is, its inputs, its request(s); the toolkit adds the backend and the calls.
 * Each call is one cell, `await show(reason(request, options), …)`: the tokens stream while it
 * runs, then `show()` draws what was parsed out of the answer (boxes, events, subjects, a
 * trajectory, a label) and a summary line.
 *
 * @example
 * ```ts
 * import { reasonerNotebooks } from "./spec.ts";
 * reasonerNotebooks().map((nb) => nb.path); // ["reasoner/caption.ipynb", …, "reasoner/caption.tslab.ipynb"]
 * ```
 * @module
 */
import {
  type Cell,
  code,
  DRIVE_CELL,
  importCell,
  intro,
  md,
  type NotebookSpec,
  REASONER_FOOTER,
  reasonerBackendCells,
  reasonRequestCell,
  reasonSamplingCell,
} from "../toolkit.ts";

interface ReasonerSpec {
  name: string;
  title: string;
  what: string;
  inputs: string;
  outputs: string;
  extra?: string;
  inputCells: Cell[];
  /**
   * The requests: name, object literal source, stream title (when there are several), and
   * `parsed`: the options of `show()` (the image, regions or duration the answer refers to).
   */
  requests: { name: string; literal: string; title: string; parsed: string }[];
}

/** Shows the world's pick-and-place clip at the mini Reasoner's size (assets/videos/world_pick_place_small.mp4). */
const WORLD_CLIP_CELL = code(`
  await showVideo(asset("videos/world_pick_place_small.mp4"), { caption: "input: videos/world_pick_place_small.mp4 · 320x192 · 8 fps · 4 s · the procedural world" });
`);

/** Where the inputs come from, and what runs when no backend is configured (a workflow the mini Reasoner learnt). */
const TRAINED = [
  "The input is a clip of this project's procedural tabletop world (`src/world`, a held-out seed: never in any",
  "training data) at 320x192, with its ground truth in `assets/scene.json` (`world`). With no backend configured,",
  "the call runs the **mini Reasoner**, a mini model trained by this project on that synthetic world, not Cosmos 3,",
  "which was trained on this workflow with this prompt style: its answer is meaningful for this world (the note",
  "under it gives its held-out figure). Point `COSMOS_REASONER_BACKEND` at a Cosmos 3 Reasoner for real footage.",
].join(" ");

/** The same for a workflow the mini Reasoner was not trained on. */
const UNTRAINED = [
  "The input is a clip of this project's procedural tabletop world (`src/world`, a held-out seed). With no backend",
  "configured, the call runs the **mini Reasoner**, a mini model trained by this project on that synthetic world, not",
  "Cosmos 3, which was **not trained on this workflow**: it still runs (the whole native path), but its answer is",
  "not meaningful, and the note under it says so. Point `COSMOS_REASONER_BACKEND` at a Cosmos 3 Reasoner checkpoint",
  "or server for a real answer.",
].join(" ");

const REASONERS: ReasonerSpec[] = [
  {
    name: "caption",
    title: "Caption: detailed video captioning",
    what:
      "The Reasoner watches a video and writes a detailed caption. Cosmos 3's Reasoner follows the Qwen3-VL message conventions: a system turn, then a user turn with a `video_url` part and the text prompt.",
    inputs: "Video",
    outputs: "Text",
    extra: TRAINED,
    inputCells: [
      WORLD_CLIP_CELL,
      code(`
      // What the clip shows, by construction (assets/make.ts): a reference, not model output.
      await showJson("reference: the objects on the table", scene.world.smallImage.boxes.map((b) => b.label));
    `),
    ],
    requests: [{
      name: "request",
      title: "caption",
      literal: `{
  task: "caption",
  video: asset("videos/world_pick_place_small.mp4"),
  // prompt: the workflow's default ("Describe this video in detail.")
}`,
      parsed: "",
    }],
  },
  {
    name: "temporal_localization",
    title: "Temporal localization: events with timestamps",
    what:
      "Event detection, timestamp queries and interval question answering: the Reasoner lists the notable events of a video with their start and end times (text or JSON). The answer is parsed into events and drawn on a timeline.",
    inputs: "Video, query",
    outputs: "Text or JSON",
    extra: TRAINED,
    inputCells: [
      WORLD_CLIP_CELL,
      code(`
        // What the clip shows, by construction (the world's simulation): a reference, not model output.
        await showTimeline(scene.world.smallPickPlace.events, { duration: scene.world.smallPickPlace.seconds, title: "Reference events (the world's ground truth)" });
      `),
    ],
    requests: [{
      name: "request",
      title: "temporal localization",
      literal: `{
  task: "temporal_localization",
  video: asset("videos/world_pick_place_small.mp4"),
  // prompt: the workflow's default asks for JSON [{"start": s, "end": s, "event": "..."}]
  // videoSampling: the processor's default (2 fps); e.g. { fps: 4 } samples more frames
}`,
      parsed: "{ duration: scene.world.smallPickPlace.seconds }",
    }],
  },
  {
    name: "embodied_reasoning",
    title: "Embodied reasoning: the robot's next action",
    what:
      "Next-action prediction for robotics and assisted-task settings. This request asks for explicit reasoning (`reasoning: true`), which appends the spec's format instruction to the prompt and switches to the reasoning sampling preset; the `<think>` part streams separately from the answer.",
    inputs: "Video, question",
    outputs: "Text",
    extra: UNTRAINED,
    inputCells: [WORLD_CLIP_CELL],
    requests: [{
      name: "request",
      title: "embodied reasoning",
      literal: `{
  task: "embodied_reasoning",
  video: asset("videos/world_pick_place_small.mp4"),
  prompt: \`The robot's task: \${scene.world.pickPlace.instruction} Which step is the robot doing at the end of the clip, and what should it do next?\`,
  reasoning: true,
}`,
      parsed: "",
    }],
  },
  {
    name: "common_sense",
    title: "Common-sense reasoning: physical judgement from visible context",
    what: "Physical common-sense judgement about what a video shows, answered from the visible context.",
    inputs: "Video, question",
    outputs: "Text",
    extra: UNTRAINED,
    inputCells: [WORLD_CLIP_CELL],
    requests: [{
      name: "request",
      title: "common sense",
      literal: `{
  task: "common_sense",
  video: asset("videos/world_pick_place_small.mp4"),
  prompt: "If the robot arm let go of the object while carrying it over the table, where would the object end up? Answer from what is visible.",
}`,
      parsed: "",
    }],
  },
  {
    name: "grounding_2d",
    title: "2D grounding: bounding boxes from an image prompt",
    what:
      "Bounding-box localization: the Reasoner answers with Qwen3-VL-style JSON (`bbox_2d` as `[x1, y1, x2, y2]` on a 0–1000 grid, plus `label`). The boxes are parsed and drawn over the image.",
    inputs: "Image, prompt",
    outputs: "JSON boxes",
    extra: TRAINED.replace("a clip", "a still"),
    inputCells: [code(`
      await showImage(asset("images/world_tabletop_small.png"), "input: images/world_tabletop_small.png · 320x192 · the procedural world");
      // Where the objects are, by construction (the world's renderer): a reference, not model output.
      await showBoxes(asset("images/world_tabletop_small.png"), scene.world.smallImage.boxes, { caption: "reference boxes (the world's ground truth)" });
    `)],
    requests: [{
      name: "request",
      title: "2D grounding",
      literal: `{
  task: "grounding_2d",
  image: asset("images/world_tabletop_small.png"),
  prompt: 'Locate every object on the table. Answer as JSON: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}].',
}`,
      parsed: `{ image: asset("images/world_tabletop_small.png") }`,
    }],
  },
  {
    name: "describe_anything",
    title: "Describe anything: attributes of marked subjects",
    what:
      "Attribute captioning for marked subjects: the subjects are drawn onto the image as numbered marks, and the Reasoner describes each one (JSON or text).",
    inputs: "Image, marked subjects",
    outputs: "JSON or text",
    extra: TRAINED.replace("a clip", "a still"),
    inputCells: [code(`
      // Two of the objects on the table, marked by their reference boxes (the world's ground truth).
      const subjects = scene.world.smallImage.boxes.slice(0, 2).map((b) => ({ box: b.box }));
      await showImage(asset("images/world_tabletop_small.png"), "input: images/world_tabletop_small.png · 320x192 · the procedural world");
      await showSubjects(asset("images/world_tabletop_small.png"), subjects.map((s, i) => ({ ...s, index: i + 1 })), { caption: "the marked subjects" });
    `)],
    requests: [{
      name: "request",
      title: "describe anything",
      literal: `{
  task: "describe_anything",
  image: asset("images/world_tabletop_small.png"),
  subjects,
  prompt: "Describe each marked subject: its colour, shape and material.",
}`,
      parsed: `{ image: asset("images/world_tabletop_small.png"), regions: subjects }`,
    }],
  },
  {
    name: "action_cot",
    title: "Action CoT: trajectories and driving-scene chain of thought",
    what:
      "Trajectory prediction with chain of thought. Two requests: the gripper's 2D path on a still of the tabletop world, and the ego vehicle's waypoints from the driving clip with explicit reasoning. Parsed waypoints are drawn in a bird's-eye plot.",
    inputs: "Image or video, prompt",
    outputs: "Text or JSON",
    extra: [
      "With no backend configured, both calls run the **mini Reasoner**, a mini model trained by this project on a",
      "synthetic world, not Cosmos 3. It was trained on the first request's style on the tabletop world (its plan's",
      "words are learnt, its waypoints roughly: 153 off on the 0–1000 grid on held-out stills, the mean path 208),",
      "and has never seen a road:",
      "the driving answer is not meaningful. Point `COSMOS_REASONER_BACKEND` at a Cosmos 3 Reasoner for real answers.",
    ].join(" "),
    inputCells: [
      code(
        `await showImage(asset("images/world_tabletop_small.png"), "input 1: images/world_tabletop_small.png · 320x192 · the procedural world");`,
      ),
      DRIVE_CELL,
    ],
    requests: [
      {
        name: "robot",
        title: "action CoT · robot",
        literal: `{
  task: "action_cot",
  image: asset("images/world_tabletop_small.png"),
  prompt: \`\${scene.world.pickPlace.instruction} Answer with the gripper's 2D waypoints as JSON: [[x, y], ...] on the 0-1000 image grid.\`,
}`,
        parsed: "",
      },
      {
        name: "driving",
        title: "action CoT · driving",
        literal: `{
  task: "action_cot",
  video: asset("videos/driving.mp4"),
  prompt: 'You are driving this car. Describe the scene and the lead vehicle, then give the ego trajectory for the next 3 seconds as JSON waypoints [[x, y], ...] in metres (x forward, y left).',
  reasoning: true,
}`,
        parsed: "",
      },
    ],
  },
  {
    name: "physical_plausibility",
    title: "Physical plausibility analysis",
    what:
      "Physical plausibility classification: the Reasoner labels a video `plausible` or `implausible`. The answer is parsed into a label. Two clips of the tabletop world: the arm moves an object (plausible), and an object rises into the air by itself (implausible on purpose).",
    inputs: "Video, prompt",
    outputs: "Label",
    extra: [
      "The inputs are two clips of this project's procedural tabletop world (`src/world`, held-out seeds: never in",
      "any training data) at 320x192, with their ground truth in `assets/scene.json` (`world`). With no backend",
      "configured, the calls run the **mini Reasoner**, a mini model trained by this project on that synthetic world,",
      "not Cosmos 3, which was trained on this workflow with this prompt: it is right on 96% of held-out clips (it",
      "tells what moves when and why, then the label; it still takes a few teleports for carries and a few carries",
      "for jumps). Point `COSMOS_REASONER_BACKEND` at a",
      "Cosmos 3 Reasoner for real footage.",
    ].join(" "),
    inputCells: [
      WORLD_CLIP_CELL,
      code(`
        await showVideo(asset("videos/world_floating.mp4"), { caption: "input: videos/world_floating.mp4 · 320x192 · 8 fps · 4 s · the procedural world" });
        // What each clip is, by construction: a reference, not model output.
        await showJson("reference labels", { pickPlace: scene.world.smallPickPlace.label, floating: scene.world.floating.label, why: scene.world.floating.why });
      `),
    ],
    requests: [
      {
        name: "pickPlace",
        title: "physical plausibility · pick and place",
        literal: `{
  task: "physical_plausibility",
  video: asset("videos/world_pick_place_small.mp4"),
  // prompt: the workflow's default (plausible | implausible)
}`,
        parsed: "",
      },
      {
        name: "floating",
        title: "physical plausibility · floating object",
        literal: `{
  task: "physical_plausibility",
  video: asset("videos/world_floating.mp4"),
}`,
        parsed: "",
      },
    ],
  },
  {
    name: "situation_understanding",
    title: "Situation understanding: what is happening, what comes next",
    what: "Situation understanding and likely-next-action prediction from a video.",
    inputs: "Video, question",
    outputs: "Text",
    extra: UNTRAINED,
    inputCells: [WORLD_CLIP_CELL],
    requests: [{
      name: "request",
      title: "situation understanding",
      literal: `{
  task: "situation_understanding",
  video: asset("videos/world_pick_place_small.mp4"),
  prompt: "What is happening on the table, and what will the robot arm most likely do in the next few seconds?",
}`,
      parsed: "",
    }],
  },
];

function reasonerNotebook(s: ReasonerSpec, kernel: "deno" | "tslab" = "deno"): NotebookSpec {
  const cells: Cell[] = [
    intro({ title: s.title, what: s.what, inputs: s.inputs, outputs: s.outputs, extra: s.extra }),
    importCell(),
    md("## Inputs"),
    ...s.inputCells,
    md(`
      ## The request

      Typed as \`ReasonRequestInput\`; \`parseWith(ReasonRequest, …)\` validates it (a \`ValidationError\`
      names the field, the value and what is allowed) and fills in the defaults.
    `),
    ...s.requests.map((r) => reasonRequestCell(r.name, r.literal)),
    ...reasonerBackendCells(kernel),
    ...s.requests.map((r) => reasonSamplingCell(r.name)),
    md(`
      ## The call

      One cell per call: \`reason()\` streams the tokens into one output updated in place (reasoning
      and answer apart) with a progress bar per stage, and \`show()\` then draws what was parsed out of
      the answer and a summary line. A \`CosmosError\` (e.g. a backend that cannot run this yet) is
      shown with its hint instead of a result; nothing is ever made up in its place.
    `),
  ];
  for (const r of s.requests) {
    const options = s.requests.length > 1 ? `{ ...options, title: "${r.title}" }` : "options";
    cells.push(code(`await show(reason(${r.name}, ${options})${r.parsed ? `, ${r.parsed}` : ""});`));
  }
  cells.push(REASONER_FOOTER);
  // tslab has no cookbooks/_notebook.ts: its notebook runs in its folder, so an asset is a relative path, and
  // it has no `scene` (readScene): the cells that show the inputs' ground truth are left out.
  const local = (
    c: Cell,
  ): Cell => (kernel === "tslab"
    ? { ...c, source: c.source.replace(/\basset\("([^"]+)"\)/g, `"../../assets/$1"`) }
    : c);
  const kept = kernel === "tslab" ? cells.filter((c) => c.type !== "code" || !/\bscene\./.test(c.source)) : cells;
  return { path: `reasoner/${s.name}${kernel === "tslab" ? ".tslab" : ""}.ipynb`, kernel, cells: kept.map(local) };
}

/** Every Reasoner notebook, and the tslab variant of the caption one. */
export function reasonerNotebooks(): NotebookSpec[] {
  return [...REASONERS.map((s) => reasonerNotebook(s)), reasonerNotebook(REASONERS[0], "tslab")];
}
