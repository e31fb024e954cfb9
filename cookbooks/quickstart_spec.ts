/**
 * The quickstart notebook (`cookbooks/quickstart.ipynb`), the one a newcomer reads first and the README's
 * main job runs: which backends run the calls, one 2D-grounding call on the mini Reasoner (boxes drawn
 * over a held-out still of the procedural world, next to its true boxes) and one text-to-video call on
 * the Generator (the tiny untrained checkpoint until a trained mini Generator is committed: its video is
 * noise, and the notebook says so).
 *
 * @example
 * ```ts
 * import { quickstartNotebook } from "./quickstart_spec.ts";
 * quickstartNotebook().path; // "quickstart.ipynb"
 * ```
 * @module
 */
import { MINI_CHECKPOINTS, TINY_GENERATOR_CHECKPOINTS } from "../kernel/calls.ts";
import { code, importCell, intro, md, type NotebookSpec } from "./toolkit.ts";

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
        - **Generator: the tiny test checkpoint** (\`${TINY_GENERATOR_CHECKPOINTS.generate}\`): the Cosmos 3
          Generator's architecture with **random, untrained weights**, so its video is **noise** (labelled so
          below). A trained mini Generator of the same world is to come; until then the video cell shows the
          whole pipeline running (text encoder, denoising, VAE decode, MP4), not a meaningful video.

        For real answers and videos, point the calls at Cosmos 3 and rerun: \`COSMOS_REASONER_BACKEND\` and
        \`COSMOS_GENERATOR_BACKEND\` (or \`COSMOS_BACKEND\` for both) take a checkpoint folder or Hugging Face
        repo id (the native engine) or a server URL (\`http://host:8000/v1\` for vLLM / NIM,
        \`http://host:8000\` for vLLM-Omni). Each line below says which backend runs.
      `),
      code(`
        const reasonerOptions = await notebookBackend("reason", { fallback: fromRepo("${MINI_CHECKPOINTS.reason}"), fallbackIsMiniCheckpoint: true });
        const generatorOptions = await notebookBackend("generate", { fallback: fromRepo("${TINY_GENERATOR_CHECKPOINTS.generate}"), fallbackIsTinyCheckpoint: true });
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

        A prompt in the world's words, at the mini Generator's size (320x192, 17 frames). On the tiny
        untrained checkpoint the call runs at its caps (256p, 5 frames, 2 denoising steps:
        \`tinyCheckpoint: true\`) and takes seconds, and **its frames are untrained noise**, not the red cube
        sliding left: a trained mini Generator is to come. A real Cosmos 3 Generator runs the request as written.
      `),
      code(`
        const video: GenerateRequestInput = { prompt: scene.world.push.prompt, resolution: "256p", numFrames: 17, seed: 0 };
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
