/**
 * The gripper's geometry, shared by the simulator (contacts), the renderer and the
 * plausibility checker, and its pose in the single-arm 10D action layout
 * (`EMBODIMENTS.droid`): TCP x, y, z (m) + 6D rotation (first two columns of R; only a yaw
 * about z, the fingers always point down) + gripper opening in Cosmos 3's convention, 1 open … 0 closed
 * (cosmos-framework `data/generator/action/agibot_fk.py:359`), so a world chunk goes to a real checkpoint as it is.
 *
 * @example
 * ```ts
 * import { actionRow, fingerGap, poseOfRow } from "./gripper.ts";
 * const row = actionRow({ pos: [0.1, 0.3, 0.2], yaw: 0.5, open: 0 }); // 10 numbers, the last 0: closed
 * poseOfRow(row).yaw; // 0.5
 * fingerGap(poseOfRow(row).open); // 0: closed on nothing
 * ```
 * @module
 */
import { rot6FromYaw, type Vec3, yawFromRot6 } from "./geometry.ts";

/** Finger gap (m) with the gripper fully open (opening 1). */
export const OPEN_WIDTH = 0.12;
/** Half a finger's thickness (m): a finger is a disc of this radius seen from above. */
export const FINGER_HALF = 0.008;
/** Finger length (m) from the TCP (fingertips) to the palm. */
export const FINGER_LENGTH = 0.055;
/** Palm thickness (m) above the fingers. */
export const PALM_HEIGHT = 0.022;
/** Width of the action row of the single-arm layout. */
export const ACTION_DIM = 10;
/**
 * The gripper column's convention, as the training-data writers record it with every chunk (data written before
 * commit 92e9261 carries no such field and has the reverse, 0 open … 1 closed).
 */
export const GRIPPER_CONVENTION = "1 open, 0 closed" as const;

/** The gripper's pose: TCP (the point between the fingertips), yaw of the finger axis, opening 1 open … 0 closed. */
export interface GripperPose {
  pos: Vec3;
  yaw: number;
  /** 1 = fully open … 0 = closed (Cosmos 3's action convention; the action row's last column). */
  open: number;
}

/** Rounded to 1e-5, and never -0 (JSON would write it as 0: a chunk read back must equal it). */
const r5 = (v: number) => Math.round(v * 1e5) / 1e5 || 0;

/** The 10D action row of a pose (rounded to 1e-5, as written to JSON). */
export function actionRow(p: GripperPose): number[] {
  return [...p.pos, ...rot6FromYaw(p.yaw), p.open].map(r5);
}

/** The pose an action row commands. */
export function poseOfRow(row: readonly number[]): GripperPose {
  return { pos: [row[0], row[1], row[2]], yaw: yawFromRot6(row.slice(3, 9)), open: Math.min(1, Math.max(0, row[9])) };
}

/** Finger gap (m): {@link OPEN_WIDTH} at opening 1, 0 at opening 0, or the held object's width. */
export function fingerGap(open: number, heldRadius?: number): number {
  const gap = OPEN_WIDTH * open;
  return heldRadius === undefined ? gap : Math.max(gap, 2 * heldRadius);
}

/** The two fingers' centres (x, y) seen from above. */
export function fingerCenters(p: Pick<GripperPose, "pos" | "yaw">, gap: number): [[number, number], [number, number]] {
  const d = gap / 2 + FINGER_HALF;
  const c = Math.cos(p.yaw);
  const s = Math.sin(p.yaw);
  return [[p.pos[0] + c * d, p.pos[1] + s * d], [p.pos[0] - c * d, p.pos[1] - s * d]];
}
