/**
 * The small toolkit the notebook specs (`cookbooks/{reasoner,generator,action}/spec.ts`) are
 * written with: cells (`md`, `code`), the parts every notebook shares (the title cell, the import
 * cell written from what the notebook uses, the backend cell), and the `.ipynb` JSON. `make.ts`
 * writes the notebooks with it.
 *
 * @example
 * ```ts
 * import { code, importCell, intro, md, type NotebookSpec, withImports } from "./toolkit.ts";
 * const nb: NotebookSpec = withImports({
 *   path: "reasoner/hello.ipynb",
 *   kernel: "deno",
 *   cells: [intro({ title: "Hello", what: "A text-only call.", inputs: "Text", outputs: "Text" }), importCell(), md("## The call"),
 *     code(`await show(reason({ task: "custom", prompt: "Hello." }))`)],
 * });
 * ```
 * @module
 */
import {
  MINI_CHECKPOINTS,
  MINI_GENERATOR_CAPS,
  MINI_GENERATOR_MODEL,
  MINI_REASONER_CAPS,
  TINY_GENERATOR_CHECKPOINTS,
} from "../kernel/calls.ts";

/** One notebook cell before it is written. */
export interface Cell {
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

/**
 * Removes the indentation the source has in a template literal (the smallest of its lines), and
 * the blank lines around it. Only for literal text: a multi-line value interpolated into the
 * template would change the smallest indentation (that made four notebooks' first cell a code
 * block), so parts built from values are joined as lines instead (see {@link intro}).
 */
export function dedent(s: string): string {
  const lines = s.replace(/^\n+/, "").replace(/\s+$/, "").split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join("\n");
}

/** A markdown cell from an indented template literal. */
export const md = (s: string): Cell => ({ type: "markdown", source: dedent(s) });
/** A code cell from an indented template literal. */
export const code = (s: string): Cell => ({ type: "code", source: dedent(s) });

/**
 * Makes nbconvert's HTML wrap long code lines instead of cutting them off behind a scroll bar.
 * JupyterLab's sanitizer drops a `<style>` in markdown, so it only affects exported pages.
 */
const EXPORT_STYLE =
  "<style>.jp-InputArea-editor .highlight pre, .jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }</style>";

/** What the first (title) cell of a notebook says. */
export interface IntroSpec {
  title: string;
  /** What the workflow is (markdown; may have several paragraphs). */
  what: string;
  inputs: string;
  outputs: string;
  /** A paragraph after the table. */
  extra?: string;
}

/** The first cell: the title as a heading, what the workflow is, its inputs and outputs. */
export function intro(s: IntroSpec): Cell {
  const lines = [
    `# ${s.title}`,
    "",
    s.what,
    "",
    "| Inputs | Outputs |",
    "| --- | --- |",
    `| ${s.inputs} | ${s.outputs} |`,
  ];
  if (s.extra) lines.push("", s.extra);
  lines.push("", EXPORT_STYLE);
  return { type: "markdown", source: lines.join("\n") };
}

// --------------------------------------------------------------------------- the import cell

/** Stands for the first code cell until {@link withImports} writes it from what the notebook uses. */
const IMPORTS = "// <imports>";
/** The import cell (written by {@link withImports}). */
export const importCell = (): Cell => ({ type: "code", source: IMPORTS });

/** Names the notebooks may take from kernel/notebook.ts (src/mod.ts + kernel/mod.ts + the notebook calls; types marked). */
const LIBRARY_NAMES = [
  "ACTION_MODES",
  "birdsEyeFigure",
  "EMBODIMENTS",
  "generate",
  "GenerateRequest",
  "generateRequestSent",
  "generationMode",
  "notebookBackend",
  "parseWith",
  "pixelSize",
  "PROMPT_UPSAMPLING_SAMPLING",
  "readActionChunk",
  "reason",
  "ReasonRequest",
  "reasonerSampling",
  "reasonSamplingSent",
  "rollout",
  "RolloutRequest",
  "rolloutRequestSent",
  "show",
  "showBoxes",
  "showImage",
  "showJson",
  "showPlot",
  "showSubjects",
  "showTimeline",
  "showVideo",
  "note",
  "timeSeriesFigure",
  "trajectory3dFigure",
  "type GenerateRequestInput",
  "type ReasonRequestInput",
  "type RolloutRequestInput",
];
/** Names the Deno notebooks may take from cookbooks/_notebook.ts (repository paths and the assets' scene). */
const HELPER_NAMES = ["asset", "fromRepo", "readScene"];

/** `import { a, b } from "x";` on one line, or wrapped when it is long. */
function importLine(names: string[], from: string): string {
  const one = `import { ${names.join(", ")} } from "${from}";`;
  if (one.length <= 100) return one;
  const lines: string[] = [];
  let line = "";
  for (const n of names) {
    if (line && line.length + n.length + 2 > 90) {
      lines.push(line.trimEnd());
      line = "";
    }
    line += `${n}, `;
  }
  lines.push(line.trimEnd());
  return `import {\n${lines.map((l) => `  ${l}`).join("\n")}\n} from "${from}";`;
}

/** The code of `src` without comments and the text of its string literals (template `${…}` parts kept). */
export function codeOnly(src: string): string {
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

/**
 * Writes the import cell of a notebook from the names its code uses. Deno notebooks import the
 * library and the notebook calls from `kernel/notebook.ts` and the repository paths from
 * `cookbooks/_notebook.ts`; the tslab one (CommonJS) imports the same names from the bundle built
 * from `kernel/notebook.ts` (`dist/cosmos.cjs`), and `resolve` from `node:path` for its paths.
 * The paths are relative to the notebook's folder (`quickstart.ipynb` sits in `cookbooks/` itself).
 */
export function withImports(nb: NotebookSpec): NotebookSpec {
  const body = nb.cells.filter((c) => c.type === "code" && c.source !== IMPORTS).map((c) => c.source).join("\n");
  const scanned = codeOnly(body);
  const uses = (name: string) => new RegExp(`\\b${name.replace(/^type /, "")}\\b`).test(scanned);
  const library = LIBRARY_NAMES.filter(uses);
  const scene = /\bscene\./.test(scanned);
  const helpers = HELPER_NAMES.filter((n) => uses(n) || (n === "readScene" && scene));
  const node = uses("resolve") ? [importLine(["resolve"], "node:path")] : [];
  const up = "../".repeat(nb.path.split("/").length - 1); // from the notebook's folder to cookbooks/
  const lines = nb.kernel === "deno"
    ? [
      "// The library and the notebook calls (reason/generate/rollout with live output, show()): kernel/notebook.ts.",
      importLine(library, `${up}../kernel/notebook.ts`),
      "// Where the cookbooks' inputs are (assets/, made by assets/make.ts): cookbooks/_notebook.ts.",
      importLine(helpers, `${up || "./"}_notebook.ts`),
      ...(scene
        ? [
          "",
          "// What the synthetic inputs contain (assets/make.ts drew them): references, not model output.",
          "const scene = readScene();",
        ]
        : []),
    ]
    : [
      "// tslab compiles cells to CommonJS, so it loads the bundle of kernel/notebook.ts that",
      "// scripts/build-bundle.sh builds (dist/cosmos.cjs, with type declarations).",
      importLine(library, `${up}../dist/cosmos.cjs`),
      ...node,
    ];
  return { ...nb, cells: nb.cells.map((c) => (c.source === IMPORTS ? { type: "code", source: lines.join("\n") } : c)) };
}

// --------------------------------------------------------------------------- shared cells

/** The backend cell of a Reasoner notebook: the environment's backend, or the mini Reasoner. */
export function reasonerBackendCells(kernel: "deno" | "tslab" = "deno"): Cell[] {
  const mini = kernel === "deno"
    ? `fromRepo("${MINI_CHECKPOINTS.reason}")`
    : `resolve("../../${MINI_CHECKPOINTS.reason}")`;
  return [
    md(`
      ## Backend

      \`COSMOS_REASONER_BACKEND\` (then \`COSMOS_BACKEND\`) picks where the calls run: a checkpoint
      folder or Hugging Face repo id runs on the **embedded native engine** (in-process, no Python);
      an \`http(s)://\` URL runs on a **vLLM** or **NIM** server (OpenAI chat completions, e.g.
      \`vllm serve nvidia/Cosmos3-Nano --hf-overrides '{"architectures": ["Cosmos3ReasonerForConditionalGeneration"]}' --port 8000\`).
      With neither set, this cookbook runs the **mini Reasoner** (\`${MINI_CHECKPOINTS.reason}\`) natively on the
      CPU: **a mini model trained by this project on a synthetic world, not Cosmos 3** — a 5 M-parameter
      Qwen3-VL that knows only the procedural tabletop world of \`src/world\` (coloured cubes, balls and
      cylinders, a robot arm, what happens to them). The calls then get \`miniCheckpoint: true\`: greedy
      decoding (as its held-out figures were measured), at most ${MINI_REASONER_CAPS.maxTokens} tokens, and a note under each
      answer that says whether it was trained on this workflow.
    `),
    code(`const options = await notebookBackend("reason", { fallback: ${mini}, fallbackIsMiniCheckpoint: true });`),
  ];
}

/** The request cell of a Reasoner notebook: the typed input, then what validation fills in. */
export function reasonRequestCell(name: string, literal: string): Cell {
  return code(`
    const ${name}: ReasonRequestInput = ${literal.split("\n").join("\n    ")};
    await showJson("${name}: validated, with the defaults filled in", parseWith(ReasonRequest, ${name}, "request"));
  `);
}

/**
 * The cell after the backend cell that shows the sampling a request is sent with: the spec's preset, the
 * request's overrides, then the backend's caps (`options` of {@link reasonerBackendCells}: the mini Reasoner
 * decodes greedily with at most 256 tokens), so what the notebook shows is what the call sends.
 */
export function reasonSamplingCell(name: string): Cell {
  return code(`
    // The spec's preset for the mode, the request's overrides, then the backend's caps (miniCheckpoint: greedy,
    // at most ${MINI_REASONER_CAPS.maxTokens} tokens; tinyCheckpoint: a few tokens): what reason(${name}, options) sends.
    await showJson("${name}: sampling sent with these options", reasonSamplingSent(${name}, options));
  `);
}

/** Shows the pick-and-place clip (assets/videos/pick_place.mp4). */
export const CLIP_CELL = code(`
  await showVideo(asset("videos/pick_place.mp4"), { caption: "input: videos/pick_place.mp4 · 832x480 · 24 fps · 4 s · 48 kHz stereo AAC" });
`);
/**
 * Shows the Generator's held-out clip of the procedural world (`scene.world.push`: assets/make.ts drew it with
 * src/world; 320x192, 17 frames at 10 fps), captioned with what it is in this notebook (`role`) and its words.
 */
export function worldPushClipCell(role: string, words: "prompt" | "instruction"): Cell {
  return code(`
    await showVideo(asset(scene.world.push.path), { caption: \`${role}: \${scene.world.push.path} · \${scene.world.push.width}x\${scene.world.push.height} · \${scene.world.push.frames} frames at \${scene.world.push.fps} fps · a held-out clip of the procedural world: "\${scene.world.push.${words}}"\` });
  `);
}

/** Shows the first frame of the Generator's held-out clip of the world (`scene.world.push.firstFrame`, 320x192). */
export function worldPushStillCell(role: string): Cell {
  return code(`
    await showImage(asset(scene.world.push.firstFrame), \`${role}: \${scene.world.push.firstFrame} · \${scene.world.push.width}x\${scene.world.push.height} · the first frame of a held-out clip of the procedural world\`);
  `);
}

/** Shows the driving clip (assets/videos/driving.mp4). */
export const DRIVE_CELL = code(`
  await showVideo(asset("videos/driving.mp4"), { caption: "input: videos/driving.mp4 · 832x480 · 24 fps · 3 s" });
`);

/** The last cell of the Reasoner notebooks. */
export const REASONER_FOOTER = md(`
  ---
  Sampling presets come from the spec's Reasoner table (without reasoning: temperature 0.7, top_p 0.8,
  top_k 20, presence_penalty 1.5; with reasoning: 0.6, 0.95, 20, 0.0). Run this notebook headless with
  \`bash scripts/run-cookbook.sh <this notebook>\` (see cookbooks/README.md).
`);

/** The vLLM-Omni command the Generator and action notebooks suggest (media from the assets folder only). */
export const VLLM_OMNI =
  `vllm serve nvidia/Cosmos3-Nano --omni --model-class-name Cosmos3OmniDiffusersPipeline --allowed-local-media-path "$PWD/assets" --port 8000 --init-timeout 1800`;

/**
 * The mini Generator's part of a notebook (`miniGeneratorBackendCells`): the calls it runs (`options`), and
 * which calls it was not trained for and so run on the tiny test checkpoint (`tinyOptions`), if any.
 */
export interface MiniGeneratorUse {
  /** Which calls run on the tiny checkpoint instead (markdown, e.g. "The call with sound"); none when unset. */
  tinyFor?: string;
}

/** Where the Generator calls run: the first paragraph of every Generator / action backend cell. */
const GENERATOR_BACKEND_CHOICE = `
      \`COSMOS_GENERATOR_BACKEND\` (then \`COSMOS_BACKEND\`) picks where the calls run: a diffusers-layout
      Cosmos 3 checkpoint folder or Hugging Face repo id runs on the **embedded native engine**
      (in-process, no Python; sound too when the checkpoint has \`sound_tokenizer/\`); an \`http(s)://\` URL
      runs on a **vLLM-Omni** server, started from the repository's root with \`${VLLM_OMNI}\` (\`--allowed-local-media-path\` lets it read files
      from the assets folder only; set \`COSMOS_ALLOWED_LOCAL_MEDIA_PATH\` to the same folder for the
      inputs to be read there, otherwise they are uploaded).`;

/** The `notebookBackend` line of the tiny test checkpoint for a call, kept in `name`. */
function tinyBackendLine(call: "generate" | "rollout", name: string): string {
  return `const ${name} = await notebookBackend("${call}", { fallback: fromRepo("${
    TINY_GENERATOR_CHECKPOINTS[call]
  }"), fallbackIsTinyCheckpoint: true });`;
}

/**
 * The backend cell of a Generator or action notebook whose calls the mini Generator was trained for: the
 * environment's backend, or the mini Generator (`options`); with `use.tinyFor`, the calls it was not trained
 * for run on the tiny test checkpoint (`tinyOptions`; the same configured backend when one is set).
 */
export function miniGeneratorBackendCells(call: "generate" | "rollout", use: MiniGeneratorUse = {}): Cell[] {
  const c = MINI_GENERATOR_CAPS;
  const tiny = use.tinyFor
    ? `\n\n      ${use.tinyFor}, which the mini Generator was not trained for, ${
      use.tinyFor.includes(" calls") ? "run" : "runs"
    } with \`tinyOptions\`: with no backend set, the tiny test checkpoint (\`${
      TINY_GENERATOR_CHECKPOINTS[call]
    }\`, random weights, so its output is **untrained noise**, labelled so, run at 256p with a few frames and 2 steps); with a backend set, that backend.`
    : "";
  return [
    md(`
      ## Backend
      ${GENERATOR_BACKEND_CHOICE} With neither set, this cookbook runs the **mini Generator**
      (\`${MINI_CHECKPOINTS[call]}\`) natively on the CPU: **a mini model trained by this project on a synthetic
      world, not Cosmos 3** — ${MINI_GENERATOR_MODEL} that know only the procedural tabletop world of \`src/world\` (a wooden table, coloured
      cubes, balls and cylinders, a grey robot arm), at ${c.width}x${c.height}, ${c.numFrames} frames at ${c.fps} fps, with the
      single-arm droid 10D action chunk. The calls then get \`miniCheckpoint: true\`: each request runs at that
      size and length with the settings its held-out figures were measured with, ${c.steps} denoising steps (a
      text-to-video call takes well under 30 s on a 2-core CPU) and guidance ${c.videoGuidance} for video, ${c.actionGuidance} for actions; the
      cell after this one shows each request as sent, and a note under each result says whether the mini
      Generator was trained on that workflow.${tiny} A real checkpoint or server runs the requests as written above,
      with the model's defaults.
    `),
    code(
      [
        `const options = await notebookBackend("${call}", { fallback: fromRepo("${
          MINI_CHECKPOINTS[call]
        }"), fallbackIsMiniCheckpoint: true });`,
        ...(use.tinyFor ? [tinyBackendLine(call, "tinyOptions")] : []),
      ].join("\n"),
    ),
  ];
}

/**
 * The cell after a Generator / action backend cell that shows each request as its call sends it: the request
 * with the backend's caps (`miniCheckpoint`: the mini Generator's size, length, steps and guidance;
 * `tinyCheckpoint`: 256p, a few frames, 2 steps), validated, so what the notebook shows is what the call sends.
 * `calls` pairs each request's name with the options its call gets.
 */
export function requestSentCell(call: "generate" | "rollout", calls: { name: string; options: string }[]): Cell {
  const lines = calls.flatMap(({ name, options }) =>
    call === "generate"
      ? [`await showJson("${name}: sent with ${options}", generateRequestSent(${name}, ${options}));`]
      : [
        `const ${name}Sent = rolloutRequestSent(${name}, ${options});`,
        `await showJson("${name}: sent with ${options}", { ...${name}Sent, actions: Array.isArray(${name}Sent.actions) ? \`\${${name}Sent.actions.length} rows × \${${name}Sent.actions[0].length}\` : ${name}Sent.actions });`,
      ]
  );
  return code(
    [
      "// Each request with the caps of the backend its call runs on (miniCheckpoint: the mini Generator's size,",
      "// length, steps and guidance; tinyCheckpoint: 256p, a few frames, 2 steps), validated: what the call sends.",
      ...lines,
    ].join("\n"),
  );
}

/** The backend cell of a Generator or action notebook: the environment's backend, or the tiny test checkpoint. */
export function generatorBackendCells(call: "generate" | "rollout"): Cell[] {
  return [
    md(`
      ## Backend
      ${GENERATOR_BACKEND_CHOICE} With neither set, this cookbook runs the
      tiny test checkpoint (\`${TINY_GENERATOR_CHECKPOINTS[call]}\`, random weights${
      call === "rollout" ? ", a 64-wide action head so that every embodiment fits" : ""
    }) natively, so every
      ${
      call === "generate" ? "image and video" : "rollout video and action chunk"
    } is **untrained noise**, labelled so. The calls then get
      \`tinyCheckpoint: true\`, which runs each request at 256p with a few frames and 2 steps${
      call === "rollout" ? " (a 4-step chunk)" : ""
    }, so the notebook runs in seconds on a CPU. A real checkpoint or server runs the requests as
      written above, with the model's defaults: that is what real checkpoints want.
    `),
    code(tinyBackendLine(call, "options")),
  ];
}

/** The `.ipynb` JSON of a spec (nbformat 4.5, no outputs). */
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
