/**
 * The request of `rollout()`: Cosmos 3 as a world model for an embodiment —
 * policy (image + instruction → actions + video), forward dynamics
 * (image + action chunk → video) and inverse dynamics (video → actions + video).
 *
 * ## Chunk size and frame count
 * The model predicts one action per video transition, so a request's frame count must be
 * the chunk size or the chunk size + 1 (vLLM-Omni `pipeline_cosmos3.py:3300-3317`). Give
 * either one (or, for forward dynamics, just the actions) and the other follows:
 * `numFrames = actionChunkSize + 1`, `actionChunkSize = numFrames - 1`, and a forward-dynamics
 * chunk of T rows has `actionChunkSize = T`. Give neither and the model's default applies
 * (16 actions, 17 frames). A pair that breaks the rule is a ValidationError naming both.
 *
 * ## Size
 * The server sizes an action request from the observation: the entry of the resolution
 * tier's table whose aspect ratio is closest to the image's (`cosmos3/action.py:205-220`,
 * tier 480p unless `resolution` is set, `pipeline_cosmos3.py:286-298`), so a rollout takes a
 * `resolution` but no `aspectRatio`.
 *
 * @example
 * ```ts
 * import { RolloutRequest } from "./rollout_request.ts";
 * const r = RolloutRequest.parse({
 *   mode: "forward_dynamics", embodiment: "av", image: "assets/road.png",
 *   actions: Array.from({ length: 16 }, () => Array(9).fill(0)),
 * });
 * r.effective.actionChunkSize; // 16
 * r.effective.numFrames; // 17
 * r.effective.guidanceScale; // 1, the action modes' default
 * ```
 * @module
 */
import { z } from "zod";
import { DEFAULT_ACTION_CHUNK, DEFAULT_OUTPUT_FPS, MODE_DEFAULTS } from "./diffusion_defaults.ts";
import { ActionNormalization, statsIssues } from "./action_normalization.ts";
import {
  type ActionChunk,
  ActionMode,
  actionRowIssues,
  DOMAIN_IDS,
  DomainName,
  Embodiment,
  EMBODIMENTS,
} from "./embodiments.ts";
import { DiffusionParams, effectiveDenoising, type EffectiveDiffusion } from "./generate_request.ts";
import { ImageInput, VideoInput } from "./media_input.ts";
import { DEFAULT_RESOLUTION, type Resolution } from "./settings.ts";

const RolloutShape = DiffusionParams.extend({
  mode: ActionMode,
  embodiment: Embodiment,
  /** Instruction (policy, inverse dynamics) or scene description (forward dynamics). */
  prompt: z.string().default(""),
  image: ImageInput.optional(),
  video: VideoInput.optional(),
  /**
   * Forward dynamics: the action chunk, rows of the embodiment's dimension (checked row by row: width and
   * finite values), or a path to a JSON file of it. In the model's normalised space unless
   * `normalization.input` is `"raw"`.
   */
  actions: z.union([z.array(z.unknown()).min(1), z.string().min(1)]).optional(),
  /**
   * Raw actions: the domain's statistics (inline or a cosmos-framework stats JSON) that map them to
   * and from the model's normalised space. With it the result holds both spaces and the chart shows
   * the raw one; without it actions in and out are normalised.
   */
  normalization: ActionNormalization.optional(),
  /** Actions per chunk predicted (policy / inverse dynamics) or consumed (forward dynamics). */
  actionChunkSize: z.number().int().min(1).max(512).optional(),
  /** Another domain of the server's table than the embodiment's own (same action width). */
  domainName: DomainName.optional(),
}).strict();

type RolloutShape = z.output<typeof RolloutShape>;

/** The settings a rollout will run with. */
export interface EffectiveRollout extends Omit<EffectiveDiffusion, "numFrames"> {
  /** Actions in the chunk; undefined when it comes from an action file not read yet. */
  actionChunkSize?: number;
  /** Frames of the predicted video (chunk + 1 unless set); undefined while the action file is unread. */
  numFrames?: number;
  /** The tier whose table the server picks the size from. */
  resolution: Resolution;
  domainName: DomainName;
  domainId: number;
  rawActionDim: number;
}

/** Chunk size and frame count of a rollout: the request's, derived one from the other, or the model's (16 / 17). */
export function rolloutLength(
  r: Pick<RolloutShape, "actions" | "actionChunkSize" | "numFrames">,
): { actionChunkSize?: number; numFrames?: number } {
  // An action file is read at run time: its rows, not numFrames, give the chunk then.
  if (typeof r.actions === "string" && r.actionChunkSize === undefined) {
    return r.numFrames !== undefined ? { numFrames: r.numFrames } : {};
  }
  const rows = Array.isArray(r.actions) ? r.actions.length : undefined;
  const chunk = r.actionChunkSize ?? rows ?? (r.numFrames !== undefined ? r.numFrames - 1 : undefined);
  if (chunk === undefined) return { actionChunkSize: DEFAULT_ACTION_CHUNK, numFrames: DEFAULT_ACTION_CHUNK + 1 };
  return { actionChunkSize: chunk, numFrames: r.numFrames ?? chunk + 1 };
}

/** What a validated rollout will run with: its own settings, or the action modes' defaults. */
export function effectiveRollout(r: RolloutShape): EffectiveRollout {
  const defaulted: string[] = [];
  const denoise = effectiveDenoising(r, MODE_DEFAULTS.action, defaulted);
  const length = rolloutLength(r);
  if (r.actionChunkSize === undefined && r.numFrames === undefined && !r.actions) {
    defaulted.push("actionChunkSize", "numFrames");
  }
  if (r.resolution === undefined) defaulted.push("resolution");
  if (r.fps === undefined) defaulted.push("fps");
  const emb = EMBODIMENTS[r.embodiment];
  const domainName = r.domainName ?? emb.domainName;
  return {
    ...length,
    fps: r.fps ?? DEFAULT_OUTPUT_FPS,
    resolution: r.resolution ?? DEFAULT_RESOLUTION,
    domainName,
    domainId: DOMAIN_IDS[domainName],
    rawActionDim: emb.actionDim,
    ...denoise,
    defaulted,
  };
}

/** `rollout()` request with each mode's input rules, the action-dimension check and the chunk / frame rule. */
export const RolloutRequest = RolloutShape.superRefine((r, ctx) => {
  const bad = (path: (string | number)[], message: string, allowed: string) =>
    ctx.addIssue({ code: "custom", path, message, params: { allowed } });
  const dim = EMBODIMENTS[r.embodiment].actionDim;
  if (r.mode === "policy") {
    if (!r.image) bad(["image"], "policy needs the current observation image", "a JPG/PNG/WEBP image");
    if (!r.prompt) bad(["prompt"], "policy needs an instruction", "a non-empty string");
    if (r.actions) bad(["actions"], "policy predicts actions; it takes none", "no actions");
  }
  if (r.mode === "forward_dynamics") {
    if (!r.image && !r.video) {
      bad(["image"], "forward dynamics needs a start image (or video)", "an image or an MP4 video");
    }
    if (!r.actions) {
      bad(
        ["actions"],
        "forward dynamics needs an action chunk",
        `rows of ${dim} numbers (${r.embodiment}) or a JSON file path`,
      );
    }
  }
  if (r.mode === "inverse_dynamics") {
    if (!r.video) bad(["video"], "inverse dynamics needs a video", "an MP4 video");
    if (r.actions) bad(["actions"], "inverse dynamics predicts actions; it takes none", "no actions");
  }
  if (Array.isArray(r.actions)) {
    for (const issue of actionRowIssues(r.actions, dim, { embodiment: r.embodiment })) {
      bad(["actions", ...issue.path], issue.message, issue.allowed);
    }
    if (r.actionChunkSize !== undefined && r.actionChunkSize !== r.actions.length) {
      bad(
        ["actionChunkSize"],
        `actionChunkSize ${r.actionChunkSize} differs from the ${r.actions.length} rows given (the server would pad or cut the chunk)`,
        String(r.actions.length),
      );
    }
  }
  const { actionChunkSize: chunk } = rolloutLength(r);
  if (chunk !== undefined && r.numFrames !== undefined && r.numFrames !== chunk && r.numFrames !== chunk + 1) {
    const from = r.actionChunkSize !== undefined ? "actionChunkSize" : "actions";
    bad(
      ["numFrames"],
      `numFrames ${r.numFrames} does not fit ${
        from === "actions" ? `the ${chunk} action rows` : `actionChunkSize ${chunk}`
      }: the model takes one action per frame transition (numFrames and ${from} are tied)`,
      `numFrames ${chunk} or ${chunk + 1} with ${from === "actions" ? `${chunk} rows` : `actionChunkSize ${chunk}`}`,
    );
  }
  if (r.aspectRatio !== undefined) {
    bad(
      ["aspectRatio"],
      "a rollout's size follows the observation: the server picks the tier's size closest to its aspect ratio",
      "no aspectRatio (set resolution only)",
    );
  }
  if (r.domainName !== undefined) {
    const own = EMBODIMENTS[r.embodiment].domainName;
    const sameWidth = Object.values(EMBODIMENTS).some((e) => e.domainName === r.domainName && e.actionDim === dim);
    if (!sameWidth && r.domainName !== own) {
      bad(
        ["domainName"],
        `domain ${r.domainName} does not take ${dim}-wide ${r.embodiment} actions`,
        `a domain of ${dim}-wide actions, e.g. ${own}`,
      );
    }
  }
  if (r.image && r.video) bad(["video"], "give an image or a video, not both", "image or video");
  const norm = r.normalization;
  if (norm && typeof norm.stats !== "string") {
    for (const [key, message] of statsIssues(norm.stats, norm.method, dim)) {
      bad(["normalization", "stats", key], message, `${dim} finite numbers (${r.embodiment})`);
    }
  }
}).transform((r) => ({ ...r, actions: r.actions as ActionChunk | string | undefined, effective: effectiveRollout(r) }));
export type RolloutRequestInput = z.input<typeof RolloutRequest>;
export type RolloutRequest = z.output<typeof RolloutRequest>;
