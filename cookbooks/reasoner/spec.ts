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
  CLIP_CELL,
  code,
  DRIVE_CELL,
  importCell,
  intro,
  md,
  type NotebookSpec,
  REASONER_FOOTER,
  reasonerBackendCells,
  reasonRequestCell,
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

const REASONERS: ReasonerSpec[] = [
  {
    name: "caption",
    title: "Caption: detailed video captioning",
    what:
      "The Reasoner watches a video and writes a detailed caption. Cosmos 3's Reasoner follows the Qwen3-VL message conventions: a system turn, then a user turn with a `video_url` part and the text prompt.",
    inputs: "Video",
    outputs: "Text",
    inputCells: [CLIP_CELL],
    requests: [{
      name: "request",
      title: "caption",
      literal: `{
  task: "caption",
  video: asset("videos/pick_place.mp4"),
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
    inputCells: [
      CLIP_CELL,
      code(`
        // What the clip shows, by construction (assets/make.ts drew it): a reference, not model output.
        await showTimeline(scene.pickPlace.events, { duration: scene.pickPlace.seconds, title: "Reference events (drawn by assets/make.ts)" });
      `),
    ],
    requests: [{
      name: "request",
      title: "temporal localization",
      literal: `{
  task: "temporal_localization",
  video: asset("videos/pick_place.mp4"),
  // prompt: the workflow's default asks for JSON [{"start": s, "end": s, "event": "..."}]
  videoSampling: { fps: 4 },
}`,
      parsed: "{ duration: scene.pickPlace.seconds }",
    }],
  },
  {
    name: "embodied_reasoning",
    title: "Embodied reasoning: the robot's next action",
    what:
      "Next-action prediction for robotics and assisted-task settings. This request asks for explicit reasoning (`reasoning: true`), which appends the spec's format instruction to the prompt and switches to the reasoning sampling preset; the `<think>` part streams separately from the answer.",
    inputs: "Video, question",
    outputs: "Text",
    inputCells: [CLIP_CELL],
    requests: [{
      name: "request",
      title: "embodied reasoning",
      literal: `{
  task: "embodied_reasoning",
  video: asset("videos/pick_place.mp4"),
  prompt: "The robot's task is to put the red cube into the blue bowl. Which step is the robot doing at the end of the clip, and what should it do next?",
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
    inputCells: [CLIP_CELL],
    requests: [{
      name: "request",
      title: "common sense",
      literal: `{
  task: "common_sense",
  video: asset("videos/pick_place.mp4"),
  prompt: "If the robot let go of the cube while carrying it over the table, where would the cube end up? Answer from what is visible.",
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
    inputCells: [code(`
      await showImage(asset("images/tabletop.png"), "input: images/tabletop.png · 832x480");
      // Where the objects are, by construction (assets/make.ts): a reference, not model output.
      await showBoxes(asset("images/tabletop.png"), scene.image.boxes, { caption: "reference boxes (drawn by assets/make.ts)" });
    `)],
    requests: [{
      name: "request",
      title: "2D grounding",
      literal: `{
  task: "grounding_2d",
  image: asset("images/tabletop.png"),
  prompt: 'Locate the red cube, the blue bowl and the green can. Answer as JSON: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}].',
}`,
      parsed: `{ image: asset("images/tabletop.png") }`,
    }],
  },
  {
    name: "describe_anything",
    title: "Describe anything: attributes of marked subjects",
    what:
      "Attribute captioning for marked subjects: the subjects are drawn onto the image as numbered marks, and the Reasoner describes each one (JSON or text). This cookbook sends the WEBP version of the table scene.",
    inputs: "Image, marked subjects",
    outputs: "JSON or text",
    inputCells: [code(`
      const subjects = scene.image.boxes.filter((b) => b.label === "red cube" || b.label === "blue bowl").map((b) => ({ box: b.box }));
      await showImage(asset("images/tabletop.webp"), "input: images/tabletop.webp · 832x480");
      await showSubjects(asset("images/tabletop.png"), subjects.map((s, i) => ({ ...s, index: i + 1 })), { caption: "the marked subjects" });
    `)],
    requests: [{
      name: "request",
      title: "describe anything",
      literal: `{
  task: "describe_anything",
  image: asset("images/tabletop.webp"),
  subjects,
  prompt: "Describe each marked subject: its colour, shape and material.",
}`,
      parsed: `{ image: asset("images/tabletop.png"), regions: subjects }`,
    }],
  },
  {
    name: "action_cot",
    title: "Action CoT: trajectories and driving-scene chain of thought",
    what:
      "Trajectory prediction with chain of thought. Two requests: the gripper's 2D path on the table image, and the ego vehicle's waypoints from the driving clip with explicit reasoning. Parsed waypoints are drawn in a bird's-eye plot.",
    inputs: "Image or video, prompt",
    outputs: "Text or JSON",
    inputCells: [
      code(`await showImage(asset("images/tabletop.jpg"), "input 1: images/tabletop.jpg");`),
      DRIVE_CELL,
    ],
    requests: [
      {
        name: "robot",
        title: "action CoT · robot",
        literal: `{
  task: "action_cot",
  image: asset("images/tabletop.jpg"),
  prompt: 'Plan the gripper\\'s path to pick up the red cube and drop it into the blue bowl. Answer with the 2D waypoints as JSON: [[x, y], ...] on the 0-1000 image grid.',
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
      "Physical plausibility classification: the Reasoner labels a video `plausible` or `implausible`. The answer is parsed into a label.",
    inputs: "Video, prompt",
    outputs: "Label",
    inputCells: [CLIP_CELL],
    requests: [{
      name: "request",
      title: "physical plausibility",
      literal: `{
  task: "physical_plausibility",
  video: asset("videos/pick_place.mp4"),
  // prompt: the workflow's default (plausible | implausible)
}`,
      parsed: "",
    }],
  },
  {
    name: "situation_understanding",
    title: "Situation understanding: what is happening, what comes next",
    what: "Situation understanding and likely-next-action prediction from a video.",
    inputs: "Video, question",
    outputs: "Text",
    inputCells: [DRIVE_CELL],
    requests: [{
      name: "request",
      title: "situation understanding",
      literal: `{
  task: "situation_understanding",
  video: asset("videos/driving.mp4"),
  prompt: "What is the situation on this road, and what will the ego car most likely do in the next few seconds?",
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
  // tslab has no cookbooks/_notebook.ts: its notebook runs in its folder, so an asset is a relative path.
  const local = (
    c: Cell,
  ): Cell => (kernel === "tslab"
    ? { ...c, source: c.source.replace(/\basset\("([^"]+)"\)/g, `"../../assets/$1"`) }
    : c);
  return { path: `reasoner/${s.name}${kernel === "tslab" ? ".tslab" : ""}.ipynb`, kernel, cells: cells.map(local) };
}

/** Every Reasoner notebook, and the tslab variant of the caption one. */
export function reasonerNotebooks(): NotebookSpec[] {
  return [...REASONERS.map((s) => reasonerNotebook(s)), reasonerNotebook(REASONERS[0], "tslab")];
}
