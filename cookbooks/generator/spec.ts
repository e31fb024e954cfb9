/**
 * The Generator notebooks (`cookbooks/generator/*.ipynb`): text, image or video (± sound) in, an
 * image or a video (± sound) out, on the native engine or a vLLM-Omni server — by default text- and
 * image-to-video on the mini Generator (`checkpoints/mini-generator`, trained by this project on the
 * procedural world of `src/world`, not Cosmos 3) with the world's prompt and still, the rest (text-to-image,
 * video-to-video, sound: workflows it was not trained on) on the tiny untrained checkpoint, each at CPU-sized
 * settings; and prompt upsampling, the text-only
 * Reasoner call that writes a dense generation prompt. Each call is one cell,
 * `await show(generate(request, options))`: a progress bar per stage, then the image or video and a
 * summary line (or the backend's typed error and its hint).
 *
 * @example
 * ```ts
 * import { generatorNotebooks } from "./spec.ts";
 * generatorNotebooks().map((nb) => nb.path); // ["generator/text_to_image.ipynb", …, "generator/prompt_upsampling.ipynb"]
 * ```
 * @module
 */
import {
  type Cell,
  CLIP_CELL,
  code,
  generatorBackendCells,
  importCell,
  intro,
  md,
  miniGeneratorBackendCells,
  type MiniGeneratorUse,
  type NotebookSpec,
  REASONER_FOOTER,
  reasonerBackendCells,
  reasonRequestCell,
  reasonSamplingCell,
  requestSentCell,
  worldPushClipCell,
  worldPushStillCell,
} from "../toolkit.ts";
import { MINI_GENERATOR_CAPS } from "../../kernel/calls.ts";

interface GeneratorSpec {
  name: string;
  title: string;
  what: string;
  inputs: string;
  outputs: string;
  inputCells: Cell[];
  /** Each request and the options its call gets (default `options`). */
  requests: { name: string; literal: string; options?: string }[];
  /** Runs on the mini Generator by default (see `miniGeneratorBackendCells`); otherwise on the tiny checkpoint. */
  mini?: MiniGeneratorUse;
}

/** What the mini Generator's notebooks ask for: its training size, length and rate, in the world's words. */
const MINI_REQUEST_TEXT = `
      These requests ask for the mini Generator's own settings: the 256p tier at 16:9 (320x192),
      ${MINI_GENERATOR_CAPS.numFrames} frames at ${MINI_GENERATOR_CAPS.fps} fps (1.6 s), and a prompt in its world's words (\`scene.world.push\`: a
      held-out clip of \`src/world\` that \`assets/make.ts\` drew, the prompt written the way its training
      prompts are). Steps and guidance are left to the backend: the cell after the backend cell shows what is sent.`;

const T2V_PROMPT =
  "A wide shot of an industrial workcell: a yellow six-axis robot arm lifts a red metal part from a conveyor and places it on a pallet, sparks from a welding station flicker in the background, overhead lights reflect on the concrete floor, steady camera.";

const GENERATORS: GeneratorSpec[] = [
  {
    name: "text_to_image",
    title: "Text-to-image",
    what:
      'Robotics laboratory scene generation from a text prompt (`output: "image"`). On vLLM-Omni this is `POST /v1/images/generations` (a base64 PNG back).',
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
    what:
      "Video generation from a scene description. On vLLM-Omni this is `POST /v1/videos/sync` (multipart form, MP4 bytes back). The model's default is 189 frames at 24 fps (about 7.9 s); this cookbook asks for the mini Generator's 17 frames at 10 fps.",
    inputs: "Text",
    outputs: "Vision (MP4)",
    inputCells: [
      md("Text only: the prompt is in the request below (the spec recommends fewer than 300 words)."),
      worldPushClipCell("reference (what the simulator rendered; not an input of the call)", "prompt"),
    ],
    requests: [{
      name: "request",
      literal:
        `{\n  prompt: scene.world.push.prompt,\n  resolution: "256p",\n  numFrames: 17,\n  fps: 10,\n  seed: 0,\n}`,
    }],
    mini: {},
  },
  {
    name: "text_to_video_sound",
    title: "Text-to-video with sound",
    what:
      "Synchronized visual and audio generation: `sound: true` (vLLM-Omni's `generate_sound=true`) adds a stereo 48 kHz AAC track muxed into the MP4. The notebook shows the same prompt with and without sound.",
    inputs: "Text",
    outputs: "Vision, sound (MP4 + AAC)",
    inputCells: [],
    requests: [
      {
        name: "withSound",
        literal: `{\n  prompt: ${
          JSON.stringify(T2V_PROMPT + " The arm's motors whine and the part clanks onto the pallet.")
        },\n  resolution: "480p",\n  sound: true,\n  seed: 0,\n}`,
      },
      {
        name: "silent",
        literal: `{\n  prompt: ${JSON.stringify(T2V_PROMPT)},\n  resolution: "480p",\n  sound: false,\n  seed: 0,\n}`,
      },
    ],
  },
  {
    name: "image_to_video",
    title: "Image-to-video (± sound)",
    what:
      "Robot manipulation animation from a starting image and a prompt; with `sound: true`, image-conditioned motion with synchronized audio. The image is uploaded as `input_reference` (vision conditioning at the matching resolution: 320x192 for 256p at 16:9, 832x480 for 480p).",
    inputs: "Text, image",
    outputs: "Vision (± sound)",
    inputCells: [
      worldPushStillCell("input"),
      worldPushClipCell("reference (what the simulator rendered; not an input of the call)", "prompt"),
    ],
    requests: [
      {
        name: "silent",
        literal:
          `{\n  prompt: scene.world.push.prompt,\n  image: asset(scene.world.push.firstFrame),\n  resolution: "256p",\n  numFrames: 17,\n  fps: 10,\n  seed: 0,\n}`,
      },
      {
        name: "withSound",
        literal:
          `{\n  prompt: \`\${scene.world.push.prompt} The cube scrapes across the wooden table.\`,\n  image: asset(scene.world.push.firstFrame),\n  resolution: "256p",\n  numFrames: 17,\n  fps: 10,\n  sound: true,\n  seed: 0,\n}`,
        options: "tinyOptions",
      },
    ],
    mini: { tinyFor: "The call with sound (the mini Generator has no sound decoder)" },
  },
  {
    name: "video_to_video",
    title: "Video-to-video (± sound)",
    what:
      'Prompt-guided transformation of a robot manipulation video. `conditionFrameIndexes` picks which frames of the source stay as clean conditioning (vLLM-Omni `extra_params.condition_frame_indexes_vision`); they are **latent-frame** indexes, each covering 4 video frames, not video-frame numbers. `[0, 1]` (the model\'s default) keeps source frames 0-4 clean, the spec\'s 5 conditioning frames. `conditionVideoKeep` (`"first"` or `"last"`) says which end of a longer source video is decoded. vLLM-Omni has served video-to-video since its Cosmos 3 video-to-video PR (#4266); the spec\'s "planned" is out of date.',
    inputs: "Text, video (± sound)",
    outputs: "Vision (± sound)",
    inputCells: [CLIP_CELL],
    requests: [
      {
        name: "silent",
        literal:
          `{\n  prompt: "The same pick-and-place in a steel factory at night, under orange sodium lights.",\n  video: asset("videos/pick_place.mp4"),\n  resolution: "480p",\n  conditionFrameIndexes: [0, 1],\n  conditionVideoKeep: "first",\n}`,
      },
      {
        name: "withSound",
        literal:
          `{\n  prompt: "The same pick-and-place in a steel factory at night, under orange sodium lights; machines hum, the cube clanks into a steel bowl.",\n  video: asset("videos/pick_place.mp4"),\n  resolution: "480p",\n  conditionFrameIndexes: [0, 1],\n  conditionVideoKeep: "first",\n  sound: true,\n}`,
      },
    ],
  },
];

function generatorNotebook(s: GeneratorSpec): NotebookSpec {
  const optionsOf = (r: GeneratorSpec["requests"][number]) => r.options ?? "options";
  const cells: Cell[] = [
    intro({ title: s.title, what: s.what, inputs: s.inputs, outputs: s.outputs }),
    importCell(),
    md("## Inputs"),
    ...(s.inputCells.length
      ? s.inputCells
      : [md("Text only: the prompt is in the request below (the spec recommends fewer than 300 words).")]),
    md(`
      ## The request

      Typed as \`GenerateRequestInput\`. A setting left out is not sent: the model applies its own
      per-mode default, and the validated request shows it in \`effective\` (text-to-image: 50 steps,
      guidance 7.0, flow shift 3.0 at 1024x1024; video: 35 steps, 6.0, 10.0 at 1280x720, 189 frames).
      ${s.mini ? MINI_REQUEST_TEXT.trim() : "These cookbooks ask for 480p (832x480 at 16:9) to keep the runs short."}
    `),
    ...s.requests.map((r) =>
      code(`
        const ${r.name}: GenerateRequestInput = ${r.literal.split("\n").join("\n        ")};
        const ${r.name}Parsed = parseWith(GenerateRequest, ${r.name}, "request");
        await showJson(\`${r.name}: \${generationMode(${r.name}Parsed)}, validated; effective = what the run uses\`, ${r.name}Parsed);
      `)
    ),
    ...(s.mini
      ? [
        ...miniGeneratorBackendCells("generate", s.mini),
        requestSentCell("generate", s.requests.map((r) => ({ name: r.name, options: optionsOf(r) }))),
      ]
      : generatorBackendCells("generate")),
    md(`
      ## The call

      One cell per call: \`generate()\` shows a progress bar per stage (upload, denoise, download), and
      \`show()\` plays the result with a summary line. A \`CosmosError\` is shown with its hint instead
      of a result; no result is ever made up.
    `),
  ];
  for (const r of s.requests) cells.push(code(`await show(generate(${r.name}, ${optionsOf(r)}));`));
  return { path: `generator/${s.name}.ipynb`, kernel: "deno", cells };
}

/** Prompt upsampling: a text-only Reasoner call with the spec's upsampling preset. */
function promptUpsamplingNotebook(): NotebookSpec {
  const cells: Cell[] = [
    intro({
      title: "Prompt upsampling: a short scene description → a dense generation prompt",
      what:
        "Generator prompt upsampling expands a short scene description into a dense, structured prompt for world generation. It is a **text-only Reasoner call** with the spec's upsampling sampling defaults (`PROMPT_UPSAMPLING_SAMPLING`: max_tokens 20000, temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.0, presence_penalty 1.5, seed 3407). The upsampled prompt then feeds `generate()`.\n\nThe spec gives the sampling defaults but not the instruction text; the instruction below is this cookbook's own.",
      inputs: "Text",
      outputs: "Text (a dense prompt, < 300 words recommended)",
    }),
    importCell(),
    md("## Input\n\nA short scene description, as a user would type it."),
    code(`
      const short = "a robot arm puts a red cube into a blue bowl on a wooden table";
      await note("info", \`short description: "\${short}"\`);
    `),
    md(`
      ## The request

      Text only (\`task: "custom"\`, no image or video), with \`PROMPT_UPSAMPLING_SAMPLING\` as the
      sampling parameters. Its \`max_tokens\` is the request's token limit (\`maxTokens\` is the same
      knob: giving both with different values is a \`ValidationError\`).
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
    reasonSamplingCell("request"),
    md(`
      ## The call

      With no backend configured the call runs the mini Reasoner (\`miniCheckpoint: true\`, set by the
      backend cell), which was never trained on prompt upsampling: it decodes greedily and stops at 256
      tokens instead of the preset's 20000 (the cell above shows what is sent), and its answer is in the
      style of its tabletop world, not a meaningful prompt. On a tiny untrained checkpoint
      (\`tinyCheckpoint: true\`) the cap is a few tokens: random weights never emit an end token. On a
      real Cosmos 3 Reasoner every preset value is sent as is. The result is kept for the next step.
    `),
    code(`
      const result = await reason(request, options);
      await show(result);
    `),
    md(`
      ## Next step: the Generator request

      The upsampled prompt becomes the \`prompt\` of a \`generate()\` request (see
      \`generator/text_to_video.ipynb\`, which runs on a Cosmos 3 checkpoint natively or on a vLLM-Omni server).
    `),
    code(`
      if (result.answer.trim()) {
        const next = parseWith(GenerateRequest, { prompt: result.answer.trim(), seed: 0 }, "request");
        await showJson(\`generate() request with the upsampled prompt (\${result.answer.trim().split(/\\s+/).length} words)\`, next);
        if (options.tinyCheckpoint) await note("untrained", "This prompt came from untrained weights: it is gibberish and would not make a meaningful video.");
        if (options.miniCheckpoint) await note("untrained", "This prompt came from the mini Reasoner, which was not trained on prompt upsampling: it would not make a meaningful Cosmos 3 video.");
      } else {
        await note("unavailable", "No upsampled prompt to hand to generate(): the Reasoner call did not return one (see above).");
      }
    `),
    REASONER_FOOTER,
  ];
  return { path: "generator/prompt_upsampling.ipynb", kernel: "deno", cells };
}

/** Every Generator notebook, prompt upsampling last. */
export function generatorNotebooks(): NotebookSpec[] {
  return [...GENERATORS.map(generatorNotebook), promptUpsamplingNotebook()];
}
