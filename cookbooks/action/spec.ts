/**
 * The action notebooks (`cookbooks/action/*.ipynb`): policy, forward dynamics and inverse dynamics
 * for several embodiments, on the native engine or a vLLM-Omni server — by default the single-arm (droid)
 * calls on the mini Generator (`checkpoints/mini-generator`, trained by this project on the procedural world of
 * `src/world`, not Cosmos 3) with a held-out clip of that world, its first frame and its action chunk, the
 * other embodiments (which it was not trained on) on the tiny untrained checkpoint, each at CPU-sized
 * settings. Policy and inverse dynamics then chart the droid chunk against the world's true one. Each call is one cell,
 * `await show(rollout(request, options), { fps: 10 })`: a progress bar per stage, then the rollout
 * video, the predicted actions as plots and a summary line (or the backend's typed error and its hint).
 *
 * @example
 * ```ts
 * import { actionNotebooks } from "./spec.ts";
 * actionNotebooks().map((nb) => nb.path); // ["action/policy.ipynb", "action/forward_dynamics.ipynb", "action/inverse_dynamics.ipynb"]
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
  miniGeneratorBackendCells,
  type NotebookSpec,
  requestSentCell,
  worldPushClipCell,
  worldPushStillCell,
} from "../toolkit.ts";

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

/** The options of an embodiment's call: the mini Generator for droid (its training embodiment), else the tiny checkpoint. */
const optionsOf = (c: ActionCase) => (c.embodiment === "droid" ? "options" : "tinyOptions");

/**
 * After a droid policy / inverse-dynamics call: the predicted chunk against the chunk the world's simulator
 * drove the held-out clip with (what the model should have found), per dimension and as a TCP path.
 */
const TRUE_CHUNK_CELLS: Cell[] = [
  md(`
    The predicted droid chunk against the world's own (\`assets/actions/world_droid_10d.json\`: the chunk the
    simulator drove this held-out clip with), per dimension and as the TCP path (columns 0-2, metres). The mini
    Generator was trained on the world's chunks as they are (no normalisation statistics), so its "normalised"
    output is in the world's units and the two compare directly; on another backend the predicted chunk is in
    that model's normalised space.
  `),
  code(`
    const truth = await readActionChunk(asset(scene.world.push.actions), { dim: EMBODIMENTS.droid.actionDim });
    const predicted = droidResult.actions ?? [];
    await note("info", \`predicted \${predicted.length} × \${predicted[0]?.length ?? 0} · true \${truth.length} × \${truth[0].length} · \${scene.world.push.layout}\`);
    await showPlot(timeSeriesFigure([{ name: "predicted", points: predicted }, { name: "true", points: truth }], { fps: 10, title: "DROID chunk: predicted vs true, every dimension" }));
    await showPlot(trajectory3dFigure([{ name: "predicted", points: predicted }, { name: "true", points: truth }], { title: "TCP path (m): predicted vs true" }));
  `),
];

const ACTION_INPUTS = code(`
  await showImage(asset("images/tabletop.png"), "tabletop.png: camera observation");
  await showImage(asset("images/road.jpg"), "road.jpg: autonomous-vehicle observation (first frame of driving.mp4)");
`);

const ACTION_CHUNKS_CELL = code(`
  // The action chunks (assets/actions/*.json), read and checked against each embodiment's dimension; droid's is
  // the chunk of the world's held-out push (the clip shown above: what the simulator rendered for it).
  const chunks = {
    droid: await readActionChunk(asset(scene.world.push.actions), { dim: EMBODIMENTS.droid.actionDim }),
    av: await readActionChunk(asset(scene.actions.av.path), { dim: EMBODIMENTS.av.actionDim }),
    camera_pose: await readActionChunk(asset(scene.actions.camera_pose.path), { dim: EMBODIMENTS.camera_pose.actionDim }),
  };
  const layouts = { droid: scene.world.push.layout, av: scene.actions.av.layout, camera_pose: scene.actions.camera_pose.layout };
  for (const [id, rows] of Object.entries(chunks)) {
    await note("info", \`\${id}: \${rows.length} steps × \${rows[0].length}D · \${layouts[id]}\`);
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
    what:
      'Cosmos 3 as a vision-language policy: from the current observation image and an instruction it predicts an action chunk for the embodiment, plus a rollout video. On vLLM-Omni it is an asynchronous `POST /v1/videos` job (`extra_params.action_mode: "policy"`, `domain_name`, `raw_action_dim`, `action_chunk_size`); the action data is read from the completed job.',
    inputs: "Text, vision",
    outputs: "Action, vision",
    inputCells: [
      worldPushStillCell("single-arm (DROID) observation"),
      ACTION_INPUTS,
      code(`
      await showImage(asset("images/egocentric.jpg"), "egocentric.jpg: first-person observation (a person's hands over the same table)");
    `),
    ],
    cases: [
      {
        name: "droid",
        embodiment: "droid",
        literal:
          `{\n  mode: "policy",\n  embodiment: "droid",\n  image: asset(scene.world.push.firstFrame),\n  prompt: scene.world.push.instruction,\n  actionChunkSize: 16,\n}`,
      },
      {
        name: "av",
        embodiment: "av",
        literal:
          `{\n  mode: "policy",\n  embodiment: "av",\n  image: asset("images/road.jpg"),\n  prompt: "Keep the lane and follow the white car at a safe distance.",\n  actionChunkSize: 16,\n}`,
      },
      {
        name: "camera",
        embodiment: "camera_pose",
        literal:
          `{\n  mode: "policy",\n  embodiment: "camera_pose",\n  image: asset("images/tabletop.png"),\n  prompt: "Orbit slowly to the left around the table, keeping the bowl in view.",\n  actionChunkSize: 16,\n}`,
      },
      {
        name: "egocentric",
        embodiment: "egocentric",
        literal:
          `{\n  mode: "policy",\n  embodiment: "egocentric",\n  image: asset("images/egocentric.jpg"),\n  prompt: "Reach out with the right hand, pick up the red cube and put it in the blue bowl.",\n  actionChunkSize: 16,\n}`,
      },
    ],
  },
  {
    name: "forward_dynamics",
    title: "Forward dynamics: future observations from actions",
    what:
      'Action-conditioned future-state rollout: from a start image (or video) and an action chunk, Cosmos 3 predicts the video that the actions would produce. On vLLM-Omni it runs on `POST /v1/videos/sync` with `extra_params.action_mode: "forward_dynamics"` and the action chunk sent inline in the request, as `extra_params.action` (a JSON array of shape [T, D]): the server needs no shared folder and no `COSMOS_ALLOWED_LOCAL_MEDIA_PATH` for it.',
    inputs: "Text, vision, action",
    outputs: "Vision",
    inputCells: [
      worldPushStillCell("single-arm (DROID) observation"),
      worldPushClipCell("reference (what the simulator rendered for the droid chunk below)", "instruction"),
      ACTION_INPUTS,
      ACTION_CHUNKS_CELL,
    ],
    cases: [
      {
        name: "droid",
        embodiment: "droid",
        literal:
          `{\n  mode: "forward_dynamics",\n  embodiment: "droid",\n  image: asset(scene.world.push.firstFrame),\n  actions: chunks.droid,\n  prompt: scene.world.push.instruction,\n}`,
      },
      {
        name: "av",
        embodiment: "av",
        literal:
          `{\n  mode: "forward_dynamics",\n  embodiment: "av",\n  video: asset("videos/driving.mp4"),\n  actions: chunks.av,\n  prompt: "A two-lane country road behind a white car.",\n}`,
      },
      {
        name: "camera",
        embodiment: "camera_pose",
        literal:
          `{\n  mode: "forward_dynamics",\n  embodiment: "camera_pose",\n  image: asset("images/tabletop.png"),\n  actions: chunks.camera_pose,\n}`,
      },
    ],
  },
  {
    name: "inverse_dynamics",
    title: "Inverse dynamics: the actions behind a video",
    what:
      'Inverse dynamics predicts the action chunk that explains an input video (e.g. the ego-motion trajectory of an AV clip). On vLLM-Omni it is an asynchronous `POST /v1/videos` job with `extra_params.action_mode: "inverse_dynamics"`; the action data is read from the completed job.',
    inputs: "Video, instruction",
    outputs: "Action, vision",
    inputCells: [worldPushClipCell("input", "instruction"), DRIVE_CELL],
    cases: [
      {
        name: "droid",
        embodiment: "droid",
        literal:
          `{\n  mode: "inverse_dynamics",\n  embodiment: "droid",\n  video: asset(scene.world.push.path),\n  prompt: scene.world.push.instruction,\n  actionChunkSize: 16,\n}`,
      },
      {
        name: "av",
        embodiment: "av",
        literal:
          `{\n  mode: "inverse_dynamics",\n  embodiment: "av",\n  video: asset("videos/driving.mp4"),\n  prompt: "Ego vehicle following a white car.",\n  actionChunkSize: 16,\n}`,
      },
      {
        name: "camera",
        embodiment: "camera_pose",
        literal:
          `{\n  mode: "inverse_dynamics",\n  embodiment: "camera_pose",\n  video: asset("videos/driving.mp4"),\n  prompt: "Camera mounted on a car.",\n  actionChunkSize: 16,\n}`,
      },
    ],
  },
];

function actionNotebook(s: ActionSpec): NotebookSpec {
  const cells: Cell[] = [
    intro({
      title: s.title,
      what: s.what,
      inputs: s.inputs,
      outputs: s.outputs,
      extra:
        `Embodiments (spec): camera motion 9D, autonomous vehicle 9D, egocentric motion 57D, single-arm robot 10D (DROID/UR/Fractal/Bridge/UMI), dual-arm robot 20D, humanoid 29D (AgiBot). This cookbook covers ${
          s.cases.map((c) => EMBODIMENT_SHORT[c.embodiment]).join(", ")
        }.`,
    }),
    importCell(),
    code(`
      await showJson("embodiments", Object.fromEntries(Object.entries(EMBODIMENTS).map(([id, e]) => [id, \`\${e.description} · domain_name \${e.domainName}\`])));
      await showJson("${s.name}", ACTION_MODES.${s.name});
    `),
    md("## Inputs"),
    ...s.inputCells,
    md(`
      ## The requests

      Typed as \`RolloutRequestInput\`; validation checks each mode's inputs, every action row
      against the embodiment's width, and that the frame count fits the chunk (one action per frame
      transition: \`numFrames\` is the chunk or the chunk + 1). A setting left out is not sent;
      \`effective\` shows what the model uses (action modes: 30 steps, guidance 1.0, flow shift 5.0;
      the size is the 480p table entry closest to the observation's aspect ratio).
    `),
    ...s.cases.map((c) =>
      code(`
        const ${c.name}: RolloutRequestInput = ${c.literal.split("\n").join("\n        ")};
        const ${c.name}Parsed = parseWith(RolloutRequest, ${c.name}, "request");
        await showJson(\`${c.name}: \${${c.name}Parsed.mode} · \${EMBODIMENTS.${c.embodiment}.description} · validated\`, { ...${c.name}Parsed, actions: Array.isArray(${c.name}Parsed.actions) ? \`\${${c.name}Parsed.actions.length} rows × \${${c.name}Parsed.actions[0].length}\` : ${c.name}Parsed.actions });
      `)
    ),
    ...miniGeneratorBackendCells("rollout", {
      tinyFor: `The ${
        s.cases.filter((c) => c.embodiment !== "droid").map((c) => EMBODIMENT_SHORT[c.embodiment]).join(", ")
      } calls (other embodiments)`,
    }),
    requestSentCell("rollout", s.cases.map((c) => ({ name: c.name, options: optionsOf(c) }))),
    md(`
      ## The calls

      One cell per call: \`rollout()\` shows a progress bar per stage (upload, queue, denoise,
      download), and \`show()\` plays the rollout video, plots the predicted actions and adds a
      summary line. A \`CosmosError\` is shown with its hint instead of a result; no result is ever
      made up.
    `),
  ];
  for (const c of s.cases) {
    cells.push(md(`### ${EMBODIMENT_HEADINGS[c.embodiment]}`));
    if (c.embodiment === "droid" && s.name !== "forward_dynamics") {
      // kept for the comparison with the world's true chunk
      cells.push(
        code(`const droidResult = await rollout(${c.name}, ${optionsOf(c)});\nawait show(droidResult, { fps: 10 });`),
      );
      cells.push(...TRUE_CHUNK_CELLS);
    } else {
      cells.push(code(`await show(rollout(${c.name}, ${optionsOf(c)}), { fps: 10 });`));
    }
  }
  return { path: `action/${s.name}.ipynb`, kernel: "deno", cells };
}

/** Every action notebook. */
export function actionNotebooks(): NotebookSpec[] {
  return ACTIONS.map(actionNotebook);
}
