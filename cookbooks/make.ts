/**
 * Writes every cookbook notebook (`cookbooks/{reasoner,generator,action}/*.ipynb`) from the
 * specs below, so the notebooks share one structure: what the workflow is (from the Cosmos 3
 * README), its inputs (from `assets/`, made by `assets/make.ts`), the typed request with the
 * spec's defaults filled in, the backend picked from the environment, the call (streamed
 * tokens / progress bars) and the inline rendering. Each notebook's first cell imports what the
 * notebook uses, including the shared helpers of `cookbooks/_notebook.ts` (the tslab variant keeps
 * copies: tslab cannot load that module). The notebooks are committed without
 * outputs; `--check` fails when a committed notebook differs from what this script writes.
 *
 * @example
 * ```sh
 * node --import tsx cookbooks/make.ts          # (re)write the notebooks
 * node --import tsx cookbooks/make.ts --check  # exit 1 when one is stale
 * ```
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** One notebook cell before it is written. */
interface Cell {
  type: "markdown" | "code";
  source: string;
}
/** A notebook to write. */
export interface NotebookSpec {
  /** Path under cookbooks/, e.g. "reasoner/caption.ipynb". */
  path: string;
  kernel: "deno" | "tslab";
  cells: Cell[];
}

const md = (s: string): Cell => ({ type: "markdown", source: dedent(s) });
const code = (s: string): Cell => ({ type: "code", source: dedent(s) });

function dedent(s: string): string {
  const lines = s.replace(/^\n+/, "").replace(/\s+$/, "").split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join("\n");
}

// --------------------------------------------------------------------------- shared cells

/** Stands for the first cell until {@link withImports} writes it from what the notebook uses. */
const IMPORTS = "// <imports>";
const importCell = (): Cell => ({ type: "code", source: IMPORTS });

/** Names the notebooks may take from src/mod.ts (types marked), kernel/mod.ts and cookbooks/_notebook.ts. */
const SRC_NAMES = [
  "ACTION_MODES", "CosmosError", "describeBackend", "EMBODIMENTS", "generate", "GenerateRequest", "generationMode",
  "parseWith", "pixelSize", "PROMPT_UPSAMPLING_SAMPLING", "readActionChunk", "reason", "ReasonRequest",
  "reasonerSampling", "resolveBackend", "rollout", "RolloutRequest",
  "type BackendSpec", "type GenerateRequestInput", "type GenerateResult", "type ReasonRequestInput",
  "type ReasonResult", "type RolloutRequestInput", "type RolloutResult",
];
const KERNEL_NAMES = [
  "birdsEyeFigure", "display", "escapeHtml", "progressReporter", "show", "showBoxes", "showPlot", "showSubjects",
  "showTimeline", "showVideo", "streamText", "timeSeriesFigure", "trajectory3dFigure",
];
const HELPER_NAMES = ["asset", "explain", "fromRepo", "note", "readScene", "showImage", "showJson", "showParsed"];

/**
 * tslab compiles cells to CommonJS and cannot import `../_notebook.ts` (it rejects `.ts` import
 * paths and files outside the notebook's folder; the ESM sources behind it would not load
 * either), so its notebook keeps copies of the helpers it uses, built on the bundle.
 */
const TSLAB_HELPERS = `
// tslab cannot import ../_notebook.ts (the Deno notebooks' helpers), so this notebook keeps copies.
const asset = (p: string) => resolve("../../assets", p);

/** A note under a cell: plain information, what the backend lacks, or the untrained-weights warning. */
async function note(kind: "info" | "unavailable" | "untrained", text: string): Promise<void> {
  const colour = { info: "#2563eb", unavailable: "#b45309", untrained: "#b91c1c" }[kind];
  await display({
    "text/html": \`<div class="cosmos-note cosmos-\${kind}" style="border-left:4px solid \${colour};padding:4px 10px;margin:4px 0;white-space:pre-wrap">\${escapeHtml(text)}</div>\`,
    "text/plain": text,
  });
}

/** Shows a CosmosError's message and hint; anything else is a bug and fails the cell. */
async function explain(e: unknown): Promise<void> {
  if (!(e instanceof CosmosError)) throw e;
  await note("unavailable", \`\${e.name} (\${e.code}): \${e.message}\`);
}

/** Shows a value as JSON (collapsible HTML, JSON and plain text). */
async function showJson(title: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, (_k, v) => (typeof v === "number" ? Math.round(v * 1e4) / 1e4 : v), 2);
  await display({
    "text/html": \`<details class="cosmos-json" open><summary>\${escapeHtml(title)}</summary><pre>\${escapeHtml(text)}</pre></details>\`,
    "application/json": JSON.parse(text),
    "text/plain": \`\${title}\\n\${text}\`,
  });
}

/** What was parsed out of the (already streamed) answer, then one summary line. Caption answers parse as text. */
async function showParsed(result: ReasonResult): Promise<void> {
  const p = result.parsed;
  const detail = p.kind === "label" ? \`: \${p.label}\` : p.kind === "unparsed" ? \` (\${p.error})\` : "";
  await note("info", \`parsed as \${p.kind}\${detail} · finish: \${result.finishReason ?? "?"} · \${result.backend}\`);
}
`;

/** `import { a, b } from "x";` on one line, or wrapped when it is long. */
function importLine(names: string[], from: string): string {
  const one = `import { ${names.join(", ")} } from "${from}";`;
  if (one.length <= 110) return one;
  const lines: string[] = [];
  let line = "";
  for (const n of names) {
    if (line && line.length + n.length + 2 > 100) {
      lines.push(line.trimEnd());
      line = "";
    }
    line += `${n}, `;
  }
  lines.push(line.trimEnd());
  return `import {\n${lines.map((l) => `  ${l}`).join("\n")}\n} from "${from}";`;
}

/** The code of `src` without comments and the text of its string literals (template `${…}` parts kept). */
function codeOnly(src: string): string {
  let out = "";
  const stack: string[] = []; // open template literals ("`") and the braces of their ${…} parts ("{")
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (stack.at(-1) === "`") {
      if (ch === "\\") i++;
      else if (ch === "`") stack.pop();
      else if (ch === "$" && src[i + 1] === "{") (stack.push("{"), i++);
      continue;
    }
    if (ch === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (ch === '"' || ch === "'") {
      for (i++; i < src.length && src[i] !== ch; i++) if (src[i] === "\\") i++;
    } else if (ch === "`") {
      stack.push("`");
    } else {
      if (ch === "{") stack.push("{");
      else if (ch === "}" && stack.at(-1) === "{") stack.pop();
      out += ch;
    }
  }
  return out;
}

/** The first code cell of a notebook: the imports it uses (and, on tslab, its copies of the helpers). */
function withImports(nb: NotebookSpec): NotebookSpec {
  const body = nb.cells.filter((c) => c.type === "code" && c.source !== IMPORTS).map((c) => c.source).join("\n");
  const scanned = codeOnly(nb.kernel === "tslab" ? `${body}\n${TSLAB_HELPERS}` : body);
  const uses = (name: string) => new RegExp(`\\b${name.replace(/^type /, "")}\\b`).test(scanned);
  const src = SRC_NAMES.filter(uses);
  const kernel = KERNEL_NAMES.filter(uses);
  const node = uses("resolve") ? [importLine(["resolve"], "node:path")] : [];
  const scene = /\bscene\./.test(scanned);
  const helpers = HELPER_NAMES.filter((n) => uses(n) || (n === "readScene" && scene));
  const lines = nb.kernel === "deno"
    ? [
      importLine(src, "../../src/mod.ts"),
      importLine(kernel, "../../kernel/mod.ts"),
      ...node,
      "// The cookbooks' shared helpers (asset paths, notes, JSON and image displays): cookbooks/_notebook.ts.",
      importLine(helpers, "../_notebook.ts"),
      ...(scene ? ["", "// What the synthetic inputs contain (assets/make.ts drew them): references, not model output.", "const scene = readScene();"] : []),
    ]
    : [
      "// tslab compiles cells to CommonJS, so it loads the bundle built by scripts/build-bundle.sh",
      "// (dist/cosmos.cjs = src/ + kernel/, with type declarations).",
      importLine([...src, ...kernel], "../../dist/cosmos.cjs"),
      ...node,
      TSLAB_HELPERS.trimEnd(),
    ];
  return { ...nb, cells: nb.cells.map((c) => (c.source === IMPORTS ? { type: "code", source: lines.join("\n") } : c)) };
}

const TINY_NOTE =
  "test/fixtures/qwen3vl-tiny is a tiny Qwen3-VL-shaped checkpoint with RANDOM, UNTRAINED weights, made for the tests. " +
  "It runs the whole native path (tokenizer, chat template, vision tower, decoding) but its text is gibberish, so parsed " +
  "outputs (boxes, events, labels) will usually be missing. For real answers set COSMOS_REASONER_BACKEND to a Cosmos3-Nano " +
  "checkpoint folder or to a vLLM / NIM URL such as http://127.0.0.1:8000/v1.";

function reasonerBackendCells(): Cell[] {
  return [
    md(`
      ## Backend

      \`COSMOS_REASONER_BACKEND\` (then \`COSMOS_BACKEND\`) picks where the call runs: a checkpoint
      folder or Hugging Face repo id runs on the **embedded native engine** (in-process, no Python);
      an \`http(s)://\` URL runs on a **vLLM** or **NIM** server (OpenAI chat completions, e.g.
      \`vllm serve nvidia/Cosmos3-Nano --hf-overrides '{"architectures": ["Cosmos3ReasonerForConditionalGeneration"]}' --port 8000\`).
      With neither set, this cookbook runs the tiny test checkpoint natively.
    `),
    code(`
      const TINY = resolve("../../test/fixtures/qwen3vl-tiny"); // the tiny test checkpoint, from this notebook's folder
      const configured = process.env.COSMOS_REASONER_BACKEND?.trim() || process.env.COSMOS_BACKEND?.trim();
      const backend: BackendSpec = resolveBackend(configured || TINY, "reasoner");
      const untrained = backend.kind === "native" && resolve(backend.checkpoint) === TINY;
      await note("info", \`backend: \${describeBackend(backend)} · \${
        backend.kind === "remote" ? "vLLM / NIM server (OpenAI chat completions)" : "embedded native engine (in-process)"
      }\${configured ? "" : " · default: COSMOS_REASONER_BACKEND and COSMOS_BACKEND are unset"}\`);
      if (untrained) await note("untrained", ${JSON.stringify(TINY_NOTE)});
    `),
    md(`
      ## The call

      \`run()\` streams the tokens into one output updated in place (reasoning and answer apart) and
      shows a progress bar per stage. A \`CosmosError\` (e.g. a backend that cannot run this yet) is
      shown with its hint instead of failing the notebook; nothing is ever made up in its place.
    `),
    code(`
      async function run(request: ReasonRequestInput, title: string): Promise<ReasonResult | undefined> {
        // The tiny checkpoint is untrained: it would ramble up to the token limit, so it gets a
        // few tokens (and 4 video frames) to keep the CPU time short. Real backends get the request as is.
        const sent: ReasonRequestInput = untrained
          ? {
            ...request,
            maxTokens: 48,
            ...(request.sampling?.max_tokens ? { sampling: { ...request.sampling, max_tokens: 48 } } : {}),
            ...(request.video ? { videoSampling: { numFrames: 4 } } : {}),
          }
          : request;
        const stream = streamText({ title });
        const onProgress = progressReporter();
        try {
          const result = await reason(sent, { backend: backend, onToken: stream.onToken, onProgress }); // \`backend: backend\`: tslab misses earlier cells' variables in shorthand properties
          await stream.done({ reasoning: result.reasoning, answer: result.answer });
          return result;
        } catch (e) {
          if (stream.messages > 0) await stream.done();
          await explain(e);
          return undefined;
        } finally {
          await onProgress.finish();
        }
      }
    `),
  ];
}

/** The request cell of a Reasoner notebook: the typed input, then what the schema fills in. */
function reasonRequestCell(name: string, literal: string): Cell {
  return code(`
    const ${name}: ReasonRequestInput = ${literal.split("\n").join("\n    ")};
    const ${name}Parsed = parseWith(ReasonRequest, ${name}, "request");
    await showJson("${name}: validated, with the defaults filled in", ${name}Parsed);
    // The spec's preset for this mode, then the request's own overrides (what a server receives).
    await showJson(\`sampling sent (preset with reasoning: \${${name}Parsed.reasoning}, then the request's overrides)\`, {
      ...reasonerSampling(${name}Parsed.reasoning),
      max_tokens: ${name}Parsed.maxTokens,
      ...${name}Parsed.sampling,
    });
  `);
}

/**
 * Shows what was parsed out of the answer (boxes, events, subjects, a trajectory, a label) and a
 * summary line, or says why there is no result. The answer's text is not shown again: `run()`
 * streamed it in the cell above.
 */
function reasonRenderCell(resultName: string, parsedOptions: string): Cell {
  return code(`
    if (${resultName}) {
      await showParsed(${resultName}${parsedOptions ? `, ${parsedOptions}` : ""});
      if (untrained) await note("untrained", "Untrained weights: the text above is gibberish by construction, not a Cosmos 3 answer.");
    } else {
      await note("unavailable", "No result to render: the backend could not run this request (see the message above).");
    }
  `);
}

function intro(title: string, what: string, inputs: string, outputs: string, extra = ""): Cell {
  return md(`
    # ${title}

    ${what}

    | Inputs | Outputs |
    | --- | --- |
    | ${inputs} | ${outputs} |
    ${extra ? "\n" + extra.split("\n").join("\n    ") : ""}
  `);
}

const REASONER_FOOTER = md(`
  ---
  Sampling presets come from the spec's Reasoner table (without reasoning: temperature 0.7, top_p 0.8,
  top_k 20, presence_penalty 1.5; with reasoning: 0.6, 0.95, 20, 0.0). Run this notebook headless with
  \`bash scripts/run-cookbook.sh <this notebook>\` (see cookbooks/README.md).
`);

// --------------------------------------------------------------------------- Reasoner

interface ReasonerSpec {
  name: string;
  title: string;
  what: string;
  inputs: string;
  outputs: string;
  extra?: string;
  inputCells: Cell[];
  /** request name → object literal source. */
  /** `parsed`: the options of `showParsed` (the image, regions or duration the answer refers to). */
  requests: { name: string; literal: string; title: string; parsed: string }[];
}

const CLIP_CELL = code(`
  await showVideo(asset("videos/pick_place.mp4"), { caption: "input: videos/pick_place.mp4 · 832x480 · 24 fps · 4 s · 48 kHz stereo AAC" });
`);
const DRIVE_CELL = code(`
  await showVideo(asset("videos/driving.mp4"), { caption: "input: videos/driving.mp4 · 832x480 · 24 fps · 3 s" });
`);

const REASONERS: ReasonerSpec[] = [
  {
    name: "caption",
    title: "Caption: detailed video captioning",
    what: "The Reasoner watches a video and writes a detailed caption. Cosmos 3's Reasoner follows the Qwen3-VL message conventions: a system turn, then a user turn with a `video_url` part and the text prompt.",
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
    what: "Event detection, timestamp queries and interval question answering: the Reasoner lists the notable events of a video with their start and end times (text or JSON). The answer is parsed into events and drawn on a timeline.",
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
    what: "Next-action prediction for robotics and assisted-task settings. This request asks for explicit reasoning (`reasoning: true`), which appends the spec's format instruction to the prompt and switches to the reasoning sampling preset; the `<think>` part streams separately from the answer.",
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
    what: "Bounding-box localization: the Reasoner answers with Qwen3-VL-style JSON (`bbox_2d` as `[x1, y1, x2, y2]` on a 0–1000 grid, plus `label`). The boxes are parsed and drawn over the image.",
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
    what: "Attribute captioning for marked subjects: the subjects are drawn onto the image as numbered marks, and the Reasoner describes each one (JSON or text). This cookbook sends the WEBP version of the table scene.",
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
    what: "Trajectory prediction with chain of thought. Two requests: the gripper's 2D path on the table image, and the ego vehicle's waypoints from the driving clip with explicit reasoning. Parsed waypoints are drawn in a bird's-eye plot.",
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
    what: "Physical plausibility classification: the Reasoner labels a video `plausible` or `implausible`. The answer is parsed into a label.",
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
    intro(s.title, s.what, s.inputs, s.outputs, s.extra),
    importCell(),
    md("## Inputs"),
    ...s.inputCells,
    md(`
      ## The request

      Typed as \`ReasonRequestInput\`; \`parseWith(ReasonRequest, …)\` validates it (a \`ValidationError\`
      names the field, the value and what is allowed) and fills in the defaults.
    `),
    ...s.requests.map((r) => reasonRequestCell(r.name, r.literal)),
    ...reasonerBackendCells(),
  ];
  for (const r of s.requests) {
    const res = s.requests.length === 1 ? "result" : `${r.name}Result`;
    cells.push(code(`const ${res} = await run(${r.name}, "${r.title}");`));
    cells.push(reasonRenderCell(res, r.parsed));
  }
  cells.push(REASONER_FOOTER);
  return { path: `reasoner/${s.name}${kernel === "tslab" ? ".tslab" : ""}.ipynb`, kernel, cells };
}

// --------------------------------------------------------------------------- Generator

const VLLM_OMNI =
  "vllm serve nvidia/Cosmos3-Nano --omni --model-class-name Cosmos3OmniDiffusersPipeline --allowed-local-media-path / --port 8000 --init-timeout 1800";

function generatorBackendCells(kind: "generate" | "rollout"): Cell[] {
  const lacks = kind === "generate" ? "Generator (diffusion) model" : "action (world-model) model";
  return [
    md(`
      ## Backend

      \`COSMOS_GENERATOR_BACKEND\` (then \`COSMOS_BACKEND\`) picks where the call runs: an \`http(s)://\`
      URL runs on a **vLLM-Omni** server (\`${VLLM_OMNI}\`); a checkpoint folder or repo id would run on
      the embedded native engine, which **has no Cosmos 3 ${lacks} yet**. With neither set, this
      cookbook names \`nvidia/Cosmos3-Nano\` on the native engine, and the call shows the engine's
      own message instead of a result.
    `),
    code(`
      const configured = process.env.COSMOS_GENERATOR_BACKEND?.trim() || process.env.COSMOS_BACKEND?.trim();
      const backend: BackendSpec = resolveBackend(configured || "nvidia/Cosmos3-Nano", "generator");
      await note("info", \`backend: \${describeBackend(backend)} · \${
        backend.kind === "remote" ? "vLLM-Omni server" : "embedded native engine (in-process)"
      }\${configured ? "" : " · default: COSMOS_GENERATOR_BACKEND and COSMOS_BACKEND are unset"}\`);
      if (backend.kind === "native") {
        await note("unavailable", "The native engine has no Cosmos 3 ${lacks} yet, so the call below cannot produce ${kind === "generate" ? "an image or video" : "a rollout"} here. To run it, start vLLM-Omni (${VLLM_OMNI}) and set COSMOS_GENERATOR_BACKEND=http://<host>:8000.");
      }
    `),
  ];
}

interface GeneratorSpec {
  name: string;
  title: string;
  what: string;
  inputs: string;
  outputs: string;
  inputCells: Cell[];
  requests: { name: string; literal: string }[];
}

const T2V_PROMPT =
  "A wide shot of an industrial workcell: a yellow six-axis robot arm lifts a red metal part from a conveyor and places it on a pallet, sparks from a welding station flicker in the background, overhead lights reflect on the concrete floor, steady camera.";

const GENERATORS: GeneratorSpec[] = [
  {
    name: "text_to_image",
    title: "Text-to-image",
    what: "Robotics laboratory scene generation from a text prompt (`output: \"image\"`). On vLLM-Omni this is `POST /v1/images/generations` (a base64 PNG back).",
    inputs: "Text",
    outputs: "Vision (JPG/PNG image)",
    inputCells: [],
    requests: [{
      name: "request",
      literal: `{
  prompt: "A bright robotics laboratory: a white dual-arm robot stands at a workbench covered with colourful parts, monitors show joint plots, soft daylight from tall windows.",
  output: "image",
  resolution: "720p",
  aspectRatio: "16:9",
  seed: 1234,
}`,
    }],
  },
  {
    name: "text_to_video",
    title: "Text-to-video",
    what: "Industrial video generation from a dense scene description. On vLLM-Omni this is `POST /v1/videos/sync` (multipart form, MP4 bytes back). 189 frames at 24 fps is about 7.9 s.",
    inputs: "Text",
    outputs: "Vision (MP4)",
    inputCells: [],
    requests: [{ name: "request", literal: `{\n  prompt: ${JSON.stringify(T2V_PROMPT)},\n  seed: 0,\n}` }],
  },
  {
    name: "text_to_video_sound",
    title: "Text-to-video with sound",
    what: "Synchronized visual and audio generation: `sound: true` (vLLM-Omni's `generate_sound=true`) adds a stereo 48 kHz AAC track muxed into the MP4. The notebook shows the same prompt with and without sound.",
    inputs: "Text",
    outputs: "Vision, sound (MP4 + AAC)",
    inputCells: [],
    requests: [
      { name: "withSound", literal: `{\n  prompt: ${JSON.stringify(T2V_PROMPT + " The arm's motors whine and the part clanks onto the pallet.")},\n  sound: true,\n  seed: 0,\n}` },
      { name: "silent", literal: `{\n  prompt: ${JSON.stringify(T2V_PROMPT)},\n  sound: false,\n  seed: 0,\n}` },
    ],
  },
  {
    name: "image_to_video",
    title: "Image-to-video (± sound)",
    what: "Robot manipulation animation from a starting image and a prompt; with `sound: true`, image-conditioned motion with synchronized audio. The image is uploaded as `input_reference` (vision conditioning at the matching resolution: 832x480 for 480p).",
    inputs: "Text, image",
    outputs: "Vision (± sound)",
    inputCells: [code(`await showImage(asset("images/tabletop.jpg"), "input: images/tabletop.jpg · 832x480");`)],
    requests: [
      { name: "silent", literal: `{\n  prompt: "The yellow robot arm reaches down, grasps the red cube and drops it into the blue bowl.",\n  image: asset("images/tabletop.jpg"),\n}` },
      { name: "withSound", literal: `{\n  prompt: "The yellow robot arm reaches down, grasps the red cube and drops it into the blue bowl; its motors whine and the cube thuds into the bowl.",\n  image: asset("images/tabletop.jpg"),\n  sound: true,\n}` },
    ],
  },
  {
    name: "video_to_video",
    title: "Video-to-video (± sound)",
    what: "Prompt-guided transformation of a robot manipulation video. `conditionFrameIndexes` picks which source frames stay as clean conditioning (vLLM-Omni `extra_params.condition_frame_indexes_vision`); video conditioning uses 5 frames. The spec marks vLLM-Omni's video-to-video as planned, so a server may refuse it.",
    inputs: "Text, video (± sound)",
    outputs: "Vision (± sound)",
    inputCells: [CLIP_CELL],
    requests: [
      { name: "silent", literal: `{\n  prompt: "The same pick-and-place in a steel factory at night, under orange sodium lights.",\n  video: asset("videos/pick_place.mp4"),\n  conditionFrameIndexes: [0, 1, 2, 3, 4],\n}` },
      { name: "withSound", literal: `{\n  prompt: "The same pick-and-place in a steel factory at night, under orange sodium lights; machines hum, the cube clanks into a steel bowl.",\n  video: asset("videos/pick_place.mp4"),\n  conditionFrameIndexes: [0, 1, 2, 3, 4],\n  sound: true,\n}` },
    ],
  },
];

function generatorNotebook(s: GeneratorSpec): NotebookSpec {
  const cells: Cell[] = [
    intro(s.title, s.what, s.inputs, s.outputs),
    importCell(),
    md("## Inputs"),
    ...(s.inputCells.length ? s.inputCells : [md("Text only: the prompt is in the request below (the spec recommends fewer than 300 words).")]),
    md(`
      ## The request

      Typed as \`GenerateRequestInput\`; validation fills in the spec's defaults (480p, 16:9, 24 fps,
      189 frames; the seed examples' 35 steps, guidance 6.0, flow shift 10.0, guardrails on).
    `),
    ...s.requests.map((r) =>
      code(`
        const ${r.name}: GenerateRequestInput = ${r.literal.split("\n").join("\n        ")};
        const ${r.name}Parsed = parseWith(GenerateRequest, ${r.name}, "request");
        await showJson(\`${r.name}: \${generationMode(${r.name}Parsed)} at \${JSON.stringify(pixelSize(${r.name}Parsed.resolution, ${r.name}Parsed.aspectRatio))}, validated with the defaults filled in\`, ${r.name}Parsed);
      `)
    ),
    ...generatorBackendCells("generate"),
    md(`
      ## The call

      \`run()\` shows a progress bar per stage (upload, denoise, download). A \`CosmosError\` is shown
      with its hint instead of failing the notebook; no result is ever made up.
    `),
    code(`
      async function run(request: GenerateRequestInput): Promise<GenerateResult | undefined> {
        const onProgress = progressReporter();
        try {
          return await generate(request, { backend: backend, onProgress });
        } catch (e) {
          await explain(e);
          return undefined;
        } finally {
          await onProgress.finish();
        }
      }
    `),
  ];
  for (const r of s.requests) {
    const res = s.requests.length === 1 ? "result" : `${r.name}Result`;
    cells.push(code(`const ${res} = await run(${r.name});`));
    cells.push(code(`
      if (${res}) {
        await show(${res});
        await note("info", \`\${${res}.mode}: \${${res}.media.width}x\${${res}.media.height}\${${res}.media.numFrames ? \` · \${${res}.media.numFrames} frames at \${${res}.media.fps} fps\` : ""} · sound: \${${res}.media.hasSound} · \${${res}.media.path} · \${${res}.backend}\`);
      } else {
        await note("unavailable", "No result to render: the backend could not run this request (see the message above).");
      }
    `));
  }
  return { path: `generator/${s.name}.ipynb`, kernel: "deno", cells };
}

/** Prompt upsampling: a text-only Reasoner call with the spec's upsampling preset (the main job). */
function promptUpsamplingNotebook(): NotebookSpec {
  const cells: Cell[] = [
    intro(
      "Prompt upsampling: a short scene description → a dense generation prompt",
      "Generator prompt upsampling expands a short scene description into a dense, structured prompt for world generation. It is a **text-only Reasoner call** with the spec's upsampling sampling defaults (`PROMPT_UPSAMPLING_SAMPLING`: max_tokens 20000, temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.0, presence_penalty 1.5, seed 3407). The upsampled prompt then feeds `generate()`.\n\nThe spec gives the sampling defaults but not the instruction text; the instruction below is this cookbook's own.",
      "Text",
      "Text (a dense prompt, < 300 words recommended)",
    ),
    importCell(),
    md("## Input\n\nA short scene description, as a user would type it."),
    code(`
      const short = "a robot arm puts a red cube into a blue bowl on a wooden table";
      await note("info", \`short description: "\${short}"\`);
    `),
    md(`
      ## The request

      Text only (\`task: "custom"\`, no image or video), with \`PROMPT_UPSAMPLING_SAMPLING\` as the
      sampling parameters.
    `),
    reasonRequestCell(
      "request",
      `{
  task: "custom",
  prompt: \`Rewrite this short scene description as one dense, concrete video-generation prompt of 120 to 250 words: the setting, objects with colours and materials, the robot and its motion step by step, lighting, camera and sound. Output only the prompt.\\n\\nDescription: \${short}\`,
  sampling: { ...PROMPT_UPSAMPLING_SAMPLING },
}`,
    ),
    ...reasonerBackendCells(),
    md(`
      On the tiny untrained checkpoint, \`run()\` caps the answer at 48 tokens instead of the preset's
      20000: random weights never emit an end token, so they would generate until the limit, which
      takes minutes on a CPU and only produces more gibberish. Every other preset value is sent as is.
    `),
    code(`const result = await run(request, "prompt upsampling");`),
    reasonRenderCell("result", ""),
    md(`
      ## Next step: the Generator request

      The upsampled prompt becomes the \`prompt\` of a \`generate()\` request (see
      \`generator/text_to_video.ipynb\`, which needs a vLLM-Omni server).
    `),
    code(`
      if (result && result.answer.trim()) {
        const next = parseWith(GenerateRequest, { prompt: result.answer.trim(), seed: 0 }, "request");
        await showJson(\`generate() request with the upsampled prompt (\${result.answer.trim().split(/\\s+/).length} words)\`, next);
        if (untrained) await note("untrained", "This prompt came from untrained weights: it is gibberish and would not make a meaningful video.");
      } else {
        await note("unavailable", "No upsampled prompt to hand to generate(): the Reasoner call did not return one (see above).");
      }
    `),
    REASONER_FOOTER,
  ];
  return { path: "generator/prompt_upsampling.ipynb", kernel: "deno", cells };
}

// --------------------------------------------------------------------------- Action

interface ActionCase {
  name: string;
  embodiment: "droid" | "av" | "camera_pose" | "egocentric";
  literal: string;
}
interface ActionSpec {
  name: "policy" | "forward_dynamics" | "inverse_dynamics";
  title: string;
  what: string;
  inputs: string;
  outputs: string;
  inputCells: Cell[];
  cases: ActionCase[];
}

/** The section heading of an embodiment's call. */
const EMBODIMENT_HEADINGS: Record<ActionCase["embodiment"], string> = {
  droid: "Single-arm robot (DROID, 10D)",
  av: "Autonomous vehicle (9D)",
  camera_pose: "Camera motion (9D)",
  egocentric: "Egocentric human motion (57D)",
};
const EMBODIMENT_SHORT: Record<ActionCase["embodiment"], string> = {
  droid: "single-arm (DROID) 10D",
  av: "AV 9D",
  camera_pose: "camera 9D",
  egocentric: "egocentric 57D",
};

const ACTION_INPUTS = code(`
  await showImage(asset("images/tabletop.png"), "tabletop.png: single-arm (DROID) and camera observation");
  await showImage(asset("images/road.jpg"), "road.jpg: autonomous-vehicle observation (first frame of driving.mp4)");
`);

const ACTION_CHUNKS_CELL = code(`
  // The action chunks (assets/actions/*.json), read and checked against each embodiment's dimension.
  const chunks = {
    droid: await readActionChunk(asset(scene.actions.droid.path), { dim: EMBODIMENTS.droid.actionDim }),
    av: await readActionChunk(asset(scene.actions.av.path), { dim: EMBODIMENTS.av.actionDim }),
    camera_pose: await readActionChunk(asset(scene.actions.camera_pose.path), { dim: EMBODIMENTS.camera_pose.actionDim }),
  };
  for (const [id, rows] of Object.entries(chunks)) {
    await note("info", \`\${id}: \${rows.length} steps × \${rows[0].length}D · \${scene.actions[id].layout}\`);
  }
  await showPlot(trajectory3dFigure(
    Object.entries(chunks).map(([id, rows]) => ({ name: id, points: rows })),
    { title: "Given action chunks: first three columns (position)" },
  ));
  await showPlot(timeSeriesFigure([{ name: "droid", points: chunks.droid }], { title: "DROID chunk, every dimension" }));
`);

const ACTIONS: ActionSpec[] = [
  {
    name: "policy",
    title: "Action policy: actions and rollout video from an observation",
    what: "Cosmos 3 as a vision-language policy: from the current observation image and an instruction it predicts an action chunk for the embodiment, plus a rollout video. On vLLM-Omni it is an asynchronous `POST /v1/videos` job (`extra_params.action_mode: \"policy\"`, `domain_name`, `raw_action_dim`, `action_chunk_size`); the action data is read from the completed job.",
    inputs: "Text, vision",
    outputs: "Action, vision",
    inputCells: [ACTION_INPUTS, code(`
      await showImage(asset("images/egocentric.jpg"), "egocentric.jpg: first-person observation (a person's hands over the same table)");
    `)],
    cases: [
      { name: "droid", embodiment: "droid", literal: `{\n  mode: "policy",\n  embodiment: "droid",\n  image: asset("images/tabletop.png"),\n  prompt: "Pick up the red cube and put it in the blue bowl.",\n  actionChunkSize: 16,\n}` },
      { name: "av", embodiment: "av", literal: `{\n  mode: "policy",\n  embodiment: "av",\n  image: asset("images/road.jpg"),\n  prompt: "Keep the lane and follow the white car at a safe distance.",\n  actionChunkSize: 16,\n}` },
      { name: "camera", embodiment: "camera_pose", literal: `{\n  mode: "policy",\n  embodiment: "camera_pose",\n  image: asset("images/tabletop.png"),\n  prompt: "Orbit slowly to the left around the table, keeping the bowl in view.",\n  actionChunkSize: 16,\n}` },
      { name: "egocentric", embodiment: "egocentric", literal: `{\n  mode: "policy",\n  embodiment: "egocentric",\n  image: asset("images/egocentric.jpg"),\n  prompt: "Reach out with the right hand, pick up the red cube and put it in the blue bowl.",\n  actionChunkSize: 16,\n}` },
    ],
  },
  {
    name: "forward_dynamics",
    title: "Forward dynamics: future observations from actions",
    what: "Action-conditioned future-state rollout: from a start image (or video) and an action chunk, Cosmos 3 predicts the video that the actions would produce. On vLLM-Omni it runs on `POST /v1/videos/sync` with `extra_params.action_mode: \"forward_dynamics\"` and `action_path`, a JSON file **the server reads**: set `COSMOS_ALLOWED_LOCAL_MEDIA_PATH` to a folder this machine and the server share (and start the server with `--allowed-local-media-path` covering it).",
    inputs: "Text, vision, action",
    outputs: "Vision",
    inputCells: [ACTION_INPUTS, ACTION_CHUNKS_CELL],
    cases: [
      { name: "droid", embodiment: "droid", literal: `{\n  mode: "forward_dynamics",\n  embodiment: "droid",\n  image: asset("images/tabletop.png"),\n  actions: chunks.droid,\n  prompt: "A robot arm over a wooden table with a red cube and a blue bowl.",\n}` },
      { name: "av", embodiment: "av", literal: `{\n  mode: "forward_dynamics",\n  embodiment: "av",\n  video: asset("videos/driving.mp4"),\n  actions: chunks.av,\n  prompt: "A two-lane country road behind a white car.",\n}` },
      { name: "camera", embodiment: "camera_pose", literal: `{\n  mode: "forward_dynamics",\n  embodiment: "camera_pose",\n  image: asset("images/tabletop.png"),\n  actions: chunks.camera_pose,\n}` },
    ],
  },
  {
    name: "inverse_dynamics",
    title: "Inverse dynamics: the actions behind a video",
    what: "Inverse dynamics predicts the action chunk that explains an input video (e.g. the ego-motion trajectory of an AV clip). On vLLM-Omni it is an asynchronous `POST /v1/videos` job with `extra_params.action_mode: \"inverse_dynamics\"`; the action data is read from the completed job.",
    inputs: "Video, instruction",
    outputs: "Action, vision",
    inputCells: [CLIP_CELL, DRIVE_CELL],
    cases: [
      { name: "droid", embodiment: "droid", literal: `{\n  mode: "inverse_dynamics",\n  embodiment: "droid",\n  video: asset("videos/pick_place.mp4"),\n  prompt: "The arm puts the red cube into the blue bowl.",\n  actionChunkSize: 16,\n}` },
      { name: "av", embodiment: "av", literal: `{\n  mode: "inverse_dynamics",\n  embodiment: "av",\n  video: asset("videos/driving.mp4"),\n  prompt: "Ego vehicle following a white car.",\n  actionChunkSize: 16,\n}` },
      { name: "camera", embodiment: "camera_pose", literal: `{\n  mode: "inverse_dynamics",\n  embodiment: "camera_pose",\n  video: asset("videos/driving.mp4"),\n  prompt: "Camera mounted on a car.",\n  actionChunkSize: 16,\n}` },
    ],
  },
];

function actionNotebook(s: ActionSpec): NotebookSpec {
  const cells: Cell[] = [
    intro(
      s.title,
      s.what,
      s.inputs,
      s.outputs,
      `Embodiments (spec): camera motion 9D, autonomous vehicle 9D, egocentric motion 57D, single-arm robot 10D (DROID/UR/Fractal/Bridge/UMI), dual-arm robot 20D, humanoid 29D (AgiBot). This cookbook covers ${s.cases.map((c) => EMBODIMENT_SHORT[c.embodiment]).join(", ")}.`,
    ),
    importCell(),
    code(`
      await showJson("embodiments", Object.fromEntries(Object.entries(EMBODIMENTS).map(([id, e]) => [id, \`\${e.description} · domain_name \${e.domainName}\`])));
      await showJson("${s.name}", ACTION_MODES.${s.name});
    `),
    md("## Inputs"),
    ...s.inputCells,
    md(`
      ## The requests

      Typed as \`RolloutRequestInput\`; validation checks each mode's inputs and every action row
      against the embodiment's dimension, and fills in the diffusion defaults.
    `),
    ...s.cases.map((c) =>
      code(`
        const ${c.name}: RolloutRequestInput = ${c.literal.split("\n").join("\n        ")};
        const ${c.name}Parsed = parseWith(RolloutRequest, ${c.name}, "request");
        await showJson(\`${c.name}: \${${c.name}Parsed.mode} · \${EMBODIMENTS.${c.embodiment}.description} · \${JSON.stringify(pixelSize(${c.name}Parsed.resolution, ${c.name}Parsed.aspectRatio))}\`, { ...${c.name}Parsed, actions: Array.isArray(${c.name}Parsed.actions) ? \`\${${c.name}Parsed.actions.length} rows × \${${c.name}Parsed.actions[0].length}\` : ${c.name}Parsed.actions });
      `)
    ),
    ...generatorBackendCells("rollout"),
    md(`
      ## The calls

      \`run()\` shows a progress bar per stage (upload, queue, denoise, download). A \`CosmosError\` is
      shown with its hint instead of failing the notebook; no result is ever made up.
    `),
    code(`
      async function run(request: RolloutRequestInput): Promise<RolloutResult | undefined> {
        const onProgress = progressReporter();
        try {
          return await rollout(request, { backend: backend, onProgress });
        } catch (e) {
          await explain(e);
          return undefined;
        } finally {
          await onProgress.finish();
        }
      }
    `),
  ];
  for (const c of s.cases) {
    cells.push(md(`### ${EMBODIMENT_HEADINGS[c.embodiment]}`));
    cells.push(code(`const ${c.name}Result = await run(${c.name});`));
    cells.push(code(`
      if (${c.name}Result) {
        await show(${c.name}Result, { fps: 10 });
        await note("info", \`\${${c.name}Result.mode} · \${${c.name}Result.embodiment}\${${c.name}Result.actions ? \` · \${${c.name}Result.actions.length} predicted steps × \${${c.name}Result.actions[0].length}D\` : ""}\${${c.name}Result.video ? \` · video \${${c.name}Result.video.width}x\${${c.name}Result.video.height}\` : ""} · \${${c.name}Result.backend}\`);
      } else {
        await note("unavailable", "No result to render: the backend could not run this request (see the message above).");
      }
    `));
  }
  return { path: `action/${s.name}.ipynb`, kernel: "deno", cells };
}

// --------------------------------------------------------------------------- writing

/** Every cookbook notebook. */
export function allNotebooks(): NotebookSpec[] {
  return [
    ...REASONERS.map((s) => reasonerNotebook(s)),
    reasonerNotebook(REASONERS[0], "tslab"),
    ...GENERATORS.map(generatorNotebook),
    promptUpsamplingNotebook(),
    ...ACTIONS.map(actionNotebook),
  ].map(withImports);
}

/** The .ipynb JSON of a spec (nbformat 4.5, no outputs). */
export function notebookJson(nb: NotebookSpec): string {
  const stem = nb.path.replace(/\.ipynb$/, "").replaceAll("/", "-").replaceAll(".", "-");
  const json = {
    cells: nb.cells.map((c, i) => {
      const source = c.source.split(/(?<=\n)/);
      return c.type === "markdown"
        ? { cell_type: "markdown", id: `${stem}-${i}`, metadata: {}, source }
        : { cell_type: "code", execution_count: null, id: `${stem}-${i}`, metadata: {}, outputs: [], source };
    }),
    metadata: {
      kernelspec: nb.kernel === "deno"
        ? { display_name: "Deno", language: "typescript", name: "deno" }
        : { display_name: "TypeScript (tslab)", language: "typescript", name: "tslab" },
      language_info: { name: "typescript" },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
  return JSON.stringify(json, null, 1) + "\n";
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const nb of allNotebooks()) {
    const path = join(here, nb.path);
    const text = notebookJson(nb);
    if (check) {
      if (!existsSync(path) || readFileSync(path, "utf8") !== text) {
        console.error(`stale: ${relative(process.cwd(), path)}`);
        stale++;
      }
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  if (check && stale) {
    console.error(`${stale} notebook(s) differ from cookbooks/make.ts: run node --import tsx cookbooks/make.ts`);
    process.exit(1);
  }
  if (!check) console.log(`[cookbooks] wrote ${allNotebooks().length} notebooks under ${here}`);
}
