/**
 * The quickstart notebook (`cookbooks/quickstart.ipynb`), the one a newcomer reads first and the README's
 * main job runs: which backends run the calls, one 2D-grounding call on the mini Reasoner (boxes drawn
 * over a held-out still of the procedural world, next to its true boxes) and one text-to-video call on
 * the mini Generator (a prompt in the world's words, at its training size 320x192, 17 frames at 10 fps, next to
 * the world's own clip for that prompt).
 *
 * @example
 * ```ts
 * import { quickstartNotebook } from "./quickstart_spec.ts";
 * quickstartNotebook().path; // "quickstart.ipynb"
 * ```
 * @module
 */
import { MINI_CHECKPOINTS, MINI_GENERATOR_CAPS, MINI_GENERATOR_MODEL } from "../kernel/calls.ts";
import { code, importCell, intro, md, type NotebookSpec, worldPushClipCell } from "./toolkit.ts";

/** The grounding prompt in the style the mini Reasoner was trained on (src/world/tasks.ts, groundingTask). */
const GROUNDING_PROMPT =
  'Locate every object on the table. Answer as JSON: [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}].';

/** The quickstart notebook (written by cookbooks/make.ts). */
export function quickstartNotebook(): NotebookSpec {
  return {
    path: "quickstart.ipynb",
    kernel: "deno",
    cells: [
      intro({
        title: "Quickstart: find the objects in an image, then make a video from text",
        what: [
          "Start here. cosmos-ts runs NVIDIA Cosmos 3's two models from TypeScript notebooks: the **Reasoner**",
          "(`reason()`: captions, 2D boxes, events with timestamps, physical plausibility, …) and the **Generator**",
          "(`generate()`: text, image or video to video, with or without sound; `rollout()` for robot actions).",
          "A call runs on the embedded native engine (in-process, CPU or CUDA, no Python) from a checkpoint folder,",
          "or on a vLLM / NIM / vLLM-Omni server. This notebook makes one call of each; the other notebooks in",
          "`cookbooks/` cover every workflow (see cookbooks/README.md).",
        ].join("\n"),
        inputs: "A still of the procedural tabletop world (`assets/`); a text prompt",
        outputs: "Boxes drawn over the image; an MP4 video",
      }),
      importCell(),
      md(`
        ## Backends

        With nothing configured, both calls run on this machine's CPU, on checkpoints in this repository:

        - **Reasoner: the mini Reasoner** (\`${MINI_CHECKPOINTS.reason}\`), **a mini model trained by this
          project on a synthetic world, not Cosmos 3**: a 5 M-parameter Qwen3-VL that knows only the procedural
          tabletop world of \`src/world\` (cubes, balls and cylinders in six colours, a grey robot arm). On 200
          held-out images of that world its boxes overlap the true ones with a mean IoU of 0.87.
        - **Generator: the mini Generator** (\`${MINI_CHECKPOINTS.generate}\`), **a mini model trained by this
          project on a synthetic world, not Cosmos 3** either: ${MINI_GENERATOR_MODEL}, trained on clips of the same world at ${MINI_GENERATOR_CAPS.width}x${MINI_GENERATOR_CAPS.height}, ${MINI_GENERATOR_CAPS.numFrames} frames at ${MINI_GENERATOR_CAPS.fps} fps. It
          knows only that world: the note under its video says what it was trained on and its held-out figure.

        For real answers and videos, point the calls at Cosmos 3 and rerun: \`COSMOS_REASONER_BACKEND\` and
        \`COSMOS_GENERATOR_BACKEND\` (or \`COSMOS_BACKEND\` for both) take a checkpoint folder or Hugging Face
        repo id (the native engine) or a server URL (\`http://host:8000/v1\` for vLLM / NIM,
        \`http://host:8000\` for vLLM-Omni). Each line below says which backend runs.
      `),
      code(`
        const reasonerOptions = await notebookBackend("reason", { fallback: fromRepo("${MINI_CHECKPOINTS.reason}"), fallbackIsMiniCheckpoint: true });
        const generatorOptions = await notebookBackend("generate", { fallback: fromRepo("${MINI_CHECKPOINTS.generate}"), fallbackIsMiniCheckpoint: true });
      `),
      md(`
        ## 1. Grounding: where is each object?

        A still of the world from a held-out seed (the mini Reasoner never saw it in training), drawn by
        \`assets/make.ts\` with \`src/world\`, with its true boxes for reference:
      `),
      code(`
        const still = scene.world.smallImage;
        await showBoxes(asset(still.path), still.boxes, { caption: \`reference boxes (drawn by assets/make.ts) · \${still.path} · \${still.width}x\${still.height}\` });
      `),
      md(`
        The request asks for every object, in the answer format the Reasoner's parser reads (\`bbox_2d\` on a
        0–1000 grid). \`reason()\` streams the answer; \`show()\` then draws the parsed boxes over the image.
      `),
      code(`
        const grounding: ReasonRequestInput = {
          task: "grounding_2d",
          image: asset(still.path),
          prompt: '${GROUNDING_PROMPT}',
        };
      `),
      code(`await show(reason(grounding, reasonerOptions), { image: asset(still.path) });`),
      md(`
        ## 2. Text-to-video

        A prompt in the world's words, at the mini Generator's size (the 256p tier at 16:9 is 320x192;
        ${MINI_GENERATOR_CAPS.numFrames} frames at ${MINI_GENERATOR_CAPS.fps} fps). The world's own clip for this prompt (a held-out seed, drawn by
        \`assets/make.ts\`) shows what the simulator renders:
      `),
      worldPushClipCell("reference (what the simulator rendered; not an input of the call)", "prompt"),
      md(`
        On the mini Generator (\`miniCheckpoint: true\`) the call runs ${MINI_GENERATOR_CAPS.steps} denoising steps with guidance
        ${MINI_GENERATOR_CAPS.videoGuidance}, as shown below, in well under a minute on a 2-core CPU. A real Cosmos 3 Generator runs the request as
        written, with its own defaults.
      `),
      code(`
        const video: GenerateRequestInput = { prompt: scene.world.push.prompt, resolution: "256p", numFrames: 17, fps: 10, seed: 0 };
        await showJson("video: sent with generatorOptions", generateRequestSent(video, generatorOptions));
      `),
      code(`await show(generate(video, generatorOptions));`),
      md(`
        ---
        Next: \`cookbooks/reasoner/\` (every Reasoner workflow on the same world), \`cookbooks/generator/\` and
        \`cookbooks/action/\`. Run this notebook headless with \`bash scripts/run-cookbook.sh cookbooks/quickstart.ipynb\`
        (or \`bash scripts/main.sh\`, which sets up first).
      `),
    ],
  };
}
