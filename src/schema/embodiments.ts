/**
 * Embodiments and their action dimensions (seed, "Action conditioning"), and the
 * action modes of the Generator's world-model workflows.
 *
 * `domainName` is what vLLM-Omni's `extra_params.domain_name` wants. The seed names
 * `bridge_orig_lerobot`, `av` and `camera_pose`; the others follow the same pattern and
 * can be overridden per request when a server names them differently.
 *
 * @example
 * ```ts
 * import { EMBODIMENTS } from "./embodiments.ts";
 * EMBODIMENTS.droid.actionDim; // 10
 * ```
 * @module
 */
import { z } from "zod";

/** Families of embodiment with one action dimension each. */
export const EmbodimentFamily = z.enum(["camera", "av", "egocentric", "single_arm", "dual_arm", "humanoid"]);
export type EmbodimentFamily = z.infer<typeof EmbodimentFamily>;

/** Action dimension per family (seed). */
export const ACTION_DIMS: Readonly<Record<EmbodimentFamily, number>> = Object.freeze({
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
  actionDim: number;
  domainName: string;
  description: string;
}

function info(family: EmbodimentFamily, domainName: string, description: string): EmbodimentInfo {
  return { family, actionDim: ACTION_DIMS[family], domainName, description };
}

/** Every embodiment the seed names, keyed by our id. */
export const EMBODIMENTS = {
  camera_pose: info("camera", "camera_pose", "Camera motion (9D)"),
  av: info("av", "av", "Autonomous vehicle ego-motion (9D)"),
  egocentric: info("egocentric", "egocentric", "Egocentric human motion (57D)"),
  droid: info("single_arm", "droid_lerobot", "Single-arm robot, DROID (10D)"),
  ur: info("single_arm", "ur_lerobot", "Single-arm robot, UR (10D)"),
  fractal: info("single_arm", "fractal_lerobot", "Single-arm robot, Fractal (10D)"),
  bridge: info("single_arm", "bridge_orig_lerobot", "Single-arm robot, Bridge (10D)"),
  umi: info("single_arm", "umi_lerobot", "Single-arm gripper, UMI (10D)"),
  dual_droid: info("dual_arm", "dual_droid_lerobot", "Dual-arm robot, two DROID arms (20D)"),
  agibot: info("humanoid", "agibot", "Humanoid robot, AgiBot (29D)"),
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

/** A schema for chunks of one embodiment: every row must have its action dimension. */
export function actionChunkFor(embodiment: EmbodimentId): z.ZodType<ActionChunk> {
  const dim = EMBODIMENTS[embodiment].actionDim;
  return ActionChunk.superRefine((rows, ctx) => {
    rows.forEach((row, i) => {
      if (row.length !== dim) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `row ${i} has ${row.length} values; ${embodiment} actions have ${dim}`,
          params: { allowed: `${dim} numbers per row (${embodiment})` },
        });
      }
    });
  });
}
