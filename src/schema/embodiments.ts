/**
 * Embodiments and their action dimensions (seed, "Action conditioning"), and the
 * action modes of the Generator's world-model workflows.
 *
 * `domainName` / `domainId` are the names and ids Cosmos 3 was trained with, as vLLM-Omni
 * resolves them (`vllm_omni/diffusion/models/cosmos3/action.py:28-46`
 * `EMBODIMENT_TO_DOMAIN_ID`; an unknown name fails the request, :92-117). Raw action widths
 * are cosmos-framework's (`cosmos_framework/data/generator/action/utils/domain_utils.py`
 * `EMBODIMENT_TO_RAW_ACTION_DIM`); the egocentric 57D layout is the `hand_pose` domain
 * (`datasets/human_hand_pose_lerobot_dataset.py:35,77`).
 *
 * What each column means ({@link ACTION_LAYOUTS}, one table: x/y/z, 6D rotation, gripper,
 * fingertips) comes from the cosmos-framework dataset that defines each width; charts label and
 * group the columns by it.
 *
 * Left out on purpose: `libero` (its width is 7, 10 or 13 depending on the dataset's rotation
 * space, so no one width can be checked) and `galbot` (domain 9, whose raw width neither
 * table gives).
 *
 * @example
 * ```ts
 * import { EMBODIMENTS } from "./embodiments.ts";
 * EMBODIMENTS.droid.actionDim; // 10
 * EMBODIMENTS.egocentric.domainName; // "hand_pose"
 * ```
 * @module
 */
import { z } from "zod";

/** Families of embodiment (the seed's, plus the planar PushT task the model also knows). */
export const EmbodimentFamily = z.enum(["camera", "av", "egocentric", "single_arm", "dual_arm", "humanoid", "planar"]);
export type EmbodimentFamily = z.infer<typeof EmbodimentFamily>;

/** Action dimension per family of the seed. */
export const ACTION_DIMS: Readonly<Record<Exclude<EmbodimentFamily, "planar">, number>> = Object.freeze({
  camera: 9,
  av: 9,
  egocentric: 57,
  single_arm: 10,
  dual_arm: 20,
  humanoid: 29,
});

/** One embodiment. */
export interface EmbodimentInfo {
  family: EmbodimentFamily;
  /** Raw action width D of one row. */
  actionDim: number;
  /** vLLM-Omni's `extra_params.domain_name`. */
  domainName: DomainName;
  /** The domain id that name resolves to (shared ids mean a shared action embedding). */
  domainId: number;
  description: string;
  /** What each column of a row means: a key of {@link ACTION_LAYOUTS}. */
  layout: ActionLayoutId;
}

/**
 * A block of action columns that belong together, drawn as one chart panel: a translation, a 6D
 * rotation, a gripper, a fingertip.
 */
export interface ActionGroup {
  /** Panel title, e.g. "right wrist rotation (6D)". */
  label: string;
  /** The body part it belongs to (a chart puts each part in its own column of panels). */
  part: string;
  kind: "translation" | "rotation6d" | "gripper" | "fingertip" | "position2d";
  /** Column names, in row order. */
  columns: readonly string[];
}

/** The meaning of every column of an action row, in order, and where that order is defined. */
export interface ActionLayout {
  groups: readonly ActionGroup[];
  /** The file (and symbol) that fixes the layout. */
  source: string;
}

/**
 * rot6d is the first two columns of the rotation matrix, column by column (cosmos-framework
 * `utils/pose_utils.py` `convert_rotation`: `col0 = rot6d[:3]`, `col1 = rot6d[3:]`).
 */
const ROT6D_COLUMNS = ["R00", "R10", "R20", "R01", "R11", "R21"] as const;
/** The five fingertips of the 21-keypoint hand, joints 4, 8, 12, 16, 20 (`_FINGERTIP_JOINT_IDXS`). */
const FINGERS = ["thumb", "index", "middle", "ring", "little"] as const;

const join = (part: string, what: string) => (part ? `${part} ${what}` : what);
function pose(part: string): ActionGroup[] {
  return [
    { label: join(part, "translation"), part, kind: "translation", columns: ["x", "y", "z"] },
    { label: join(part, "rotation (6D)"), part, kind: "rotation6d", columns: ROT6D_COLUMNS },
  ];
}
function arm(part: string): ActionGroup[] {
  return [...pose(part), { label: join(part, "gripper"), part, kind: "gripper", columns: ["gripper"] }];
}
function hand(side: "right" | "left"): ActionGroup[] {
  const part = `${side} hand`;
  return [
    ...pose(`${side} wrist`).map((g) => ({ ...g, part })),
    ...FINGERS.map((f): ActionGroup => ({
      label: `${side} ${f} tip`,
      part,
      kind: "fingertip",
      columns: ["x", "y", "z"],
    })),
  ];
}

const DATASETS = "cosmos_framework/data/generator/action/datasets";

/**
 * Every action layout, with its source. Translations and rotations are frame-to-frame deltas
 * (backward framewise) in the datasets; fingertips are positions in that frame's wrist frame.
 */
export const ACTION_LAYOUTS = Object.freeze(
  {
    /** Camera motion: a 9D pose (reference §1.8 and diffusers' Fig. 3 comment: 3D translation + 6D rotation). */
    camera9: {
      groups: pose("camera"),
      source: "cosmos-framework utils/domain_utils.py (camera_pose: 9) with the 9D pose of paper Fig. 3",
    },
    /** Ego-vehicle motion, the same 9D pose (no AV dataset in cosmos-framework fixes it further). */
    ego9: {
      groups: pose("ego"),
      source: "cosmos-framework utils/domain_utils.py (av: 9) with the 9D pose of paper Fig. 3",
    },
    /** `[pos(3), rot6d(6), gripper(1)]`: Bridge, DROID, Fractal, UMI, RoboMIND Franka / UR. */
    arm10: {
      groups: arm(""),
      source: `${DATASETS}/bridge_orig_lerobot_dataset.py, droid_lerobot_dataset.py, fractal_lerobot_dataset.py, ` +
        "umi_lerobot_dataset.py, robomind_ur_dataset.py: build_action_spec(Pos(), Rot('rot6d'), Gripper())",
    },
    /** `[left pos, rot6d, gripper, right pos, rot6d, gripper]`. */
    dual_arm20: {
      groups: [...arm("left arm"), ...arm("right arm")],
      source: `${DATASETS}/robomind_franka_dataset.py (robomind-franka-dual: left arm, then right)`,
    },
    /** `[head pose(9), right pose(9), right gripper, left pose(9), left gripper]`. */
    agibot29: {
      groups: [...pose("head"), ...arm("right arm"), ...arm("left arm")],
      // The gear-gripper domains share AgiBot's id and width (domain_utils.py), so its layout too.
      source: `${DATASETS}/agibotworld_beta_lerobot_dataset.py (head, right arm, left arm)`,
    },
    /** `[camera(9), right wrist(9), right fingertips(15), left wrist(9), left fingertips(15)]`. */
    hand57: {
      groups: [...pose("camera"), ...hand("right"), ...hand("left")],
      source: `${DATASETS}/human_hand_pose_lerobot_dataset.py (57D: camera, right wrist + 5 tips, left wrist + 5 tips)`,
    },
    /** A planar position. */
    pusht2: {
      groups: [{ label: "position", part: "", kind: "position2d", columns: ["x", "y"] }],
      source: "cosmos-framework utils/action_spec.py (PushT: Pos(dim=2))",
    },
  } as const satisfies Record<string, ActionLayout>,
);
export type ActionLayoutId = keyof typeof ACTION_LAYOUTS;

/**
 * The column names of a layout, each prefixed by its group ("right index tip x").
 * @example
 * ```ts
 * import { ACTION_LAYOUTS, layoutColumnNames } from "./embodiments.ts";
 * layoutColumnNames(ACTION_LAYOUTS.arm10)[9]; // "gripper"
 * ```
 */
export function layoutColumnNames(layout: ActionLayout): string[] {
  return layout.groups.flatMap((g) =>
    g.columns.length === 1 ? [g.label] : g.columns.map((c) => `${g.label.replace(/ \(6D\)$/, "")} ${c}`)
  );
}

/**
 * vLLM-Omni's domain table (`cosmos3/action.py:28-46`); `no_action` is the domain of
 * plain video generation.
 */
export const DOMAIN_IDS = Object.freeze(
  {
    no_action: 0,
    av: 1,
    camera_pose: 2,
    hand_pose: 3,
    pusht: 4,
    libero: 5,
    umi: 6,
    bridge_orig_lerobot: 7,
    droid_lerobot: 8,
    "robomind-franka": 8,
    galbot: 9,
    "robomind-franka-dual": 12,
    "robomind-ur": 13,
    agibotworld: 15,
    agibot_gear_gripper: 15,
    agibot_gear_gripper_ext: 15,
    fractal: 20,
  } as const,
);
export type DomainName = keyof typeof DOMAIN_IDS;
export const DomainName = z.enum(Object.keys(DOMAIN_IDS) as [DomainName, ...DomainName[]]);

function info(
  family: EmbodimentFamily,
  domainName: DomainName,
  actionDim: number,
  description: string,
  layout: ActionLayoutId,
): EmbodimentInfo {
  return { family, actionDim, domainName, domainId: DOMAIN_IDS[domainName], description, layout };
}

/** Every embodiment the seed names (and the server's other fixed-width domains), keyed by our id. */
export const EMBODIMENTS = {
  camera_pose: info("camera", "camera_pose", 9, "Camera motion (9D)", "camera9"),
  av: info("av", "av", 9, "Autonomous vehicle ego-motion (9D)", "ego9"),
  egocentric: info(
    "egocentric",
    "hand_pose",
    57,
    "Egocentric human motion: head pose and hand keypoints (57D)",
    "hand57",
  ),
  droid: info("single_arm", "droid_lerobot", 10, "Single-arm robot, DROID (10D)", "arm10"),
  robomind_franka: info(
    "single_arm",
    "robomind-franka",
    10,
    "Single-arm robot, RoboMIND Franka (10D; same domain as DROID)",
    "arm10",
  ),
  ur: info("single_arm", "robomind-ur", 10, "Single-arm robot, RoboMIND UR (10D)", "arm10"),
  fractal: info("single_arm", "fractal", 10, "Single-arm robot, Fractal (10D)", "arm10"),
  bridge: info("single_arm", "bridge_orig_lerobot", 10, "Single-arm robot, Bridge (10D)", "arm10"),
  umi: info("single_arm", "umi", 10, "Single-arm gripper, UMI (10D)", "arm10"),
  dual_droid: info(
    "dual_arm",
    "robomind-franka-dual",
    20,
    "Dual-arm robot, two Franka arms as in DROID (20D)",
    "dual_arm20",
  ),
  agibot: info("humanoid", "agibotworld", 29, "Humanoid robot, AgiBot World (29D)", "agibot29"),
  agibot_gear_gripper: info(
    "humanoid",
    "agibot_gear_gripper",
    29,
    "Humanoid robot, AgiBot gear gripper (29D; AgiBot's domain)",
    "agibot29",
  ),
  agibot_gear_gripper_ext: info(
    "humanoid",
    "agibot_gear_gripper_ext",
    29,
    "Humanoid robot, AgiBot gear gripper, extended (29D; AgiBot's domain)",
    "agibot29",
  ),
  pusht: info("planar", "pusht", 2, "PushT planar pushing (2D)", "pusht2"),
} as const satisfies Record<string, EmbodimentInfo>;

export type EmbodimentId = keyof typeof EMBODIMENTS;
export const Embodiment = z.enum(Object.keys(EMBODIMENTS) as [EmbodimentId, ...EmbodimentId[]]);

/** Action modes (vLLM-Omni `extra_params.action_mode`). */
export const ActionMode = z.enum(["policy", "forward_dynamics", "inverse_dynamics"]);
export type ActionMode = z.infer<typeof ActionMode>;

/** What each action mode takes and returns (seed, vLLM-Omni action table). */
export const ACTION_MODES: Readonly<Record<ActionMode, { input: string; output: string }>> = Object.freeze({
  policy: { input: "image + instruction", output: "video + predicted action chunk" },
  inverse_dynamics: { input: "video + instruction", output: "video + predicted action chunk" },
  forward_dynamics: { input: "image + action chunk", output: "video" },
});

/**
 * An action chunk: T rows of D finite numbers.
 * The row width is checked against the embodiment by {@link actionChunkFor}.
 */
export const ActionChunk = z.array(z.array(z.number().finite()).min(1)).min(1);
export type ActionChunk = z.infer<typeof ActionChunk>;

/** One problem of an action chunk, at `path` (`[row]` or `[row, column]`) inside it. */
export interface ActionRowIssue {
  path: [number] | [number, number];
  value: unknown;
  allowed: string;
  message: string;
}

/**
 * What is wrong with the rows of an action chunk: a row that is not an array or not `dim` wide
 * (`row t has n values, expected D`), a value that is not a finite number (`row t, column d is
 * NaN`). The one checker of chunk rows: the request schema, {@link actionChunkFor} and the JSON
 * readers of src/media/actions.ts all report through it. Stops after `limit` issues.
 * @example
 * ```ts
 * import { actionRowIssues } from "./embodiments.ts";
 * actionRowIssues([[0, NaN]], 2)[0].message; // "row 0, column 1 is NaN"
 * ```
 */
export function actionRowIssues(
  rows: readonly unknown[],
  dim: number,
  o: { embodiment?: string; limit?: number } = {},
): ActionRowIssue[] {
  const limit = o.limit ?? 20;
  const of = o.embodiment ? ` (${o.embodiment})` : "";
  const issues: ActionRowIssue[] = [];
  for (let t = 0; t < rows.length && issues.length < limit; t++) {
    const row = rows[t];
    if (!Array.isArray(row)) {
      issues.push({
        path: [t],
        value: row,
        allowed: `an array of ${dim} numbers${of}`,
        message: `row ${t} is not an array`,
      });
      continue;
    }
    if (row.length !== dim) {
      issues.push({
        path: [t],
        value: `${row.length} values`,
        allowed: o.embodiment ? `${dim} numbers per row${of}` : `${dim} values (shape [T, ${dim}])`,
        message: `row ${t} has ${row.length} values, expected ${dim}${of}`,
      });
      continue;
    }
    for (let d = 0; d < dim && issues.length < limit; d++) {
      const x: unknown = row[d];
      if (typeof x === "number" && Number.isFinite(x)) continue;
      issues.push({
        path: [t, d],
        value: x,
        allowed: "a finite number",
        message: `row ${t}, column ${d} is ${typeof x === "string" ? `the string "${x}"` : String(x)}`,
      });
    }
  }
  return issues;
}

/** A schema for chunks of one embodiment: every row must have its action dimension and finite values. */
export function actionChunkFor(embodiment: EmbodimentId): z.ZodType<ActionChunk, unknown> {
  const dim = EMBODIMENTS[embodiment].actionDim;
  return z.array(z.unknown()).min(1).superRefine((rows, ctx) => {
    for (const issue of actionRowIssues(rows, dim, { embodiment })) {
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.message, params: { allowed: issue.allowed } });
    }
  }).transform((rows) => rows as ActionChunk);
}
