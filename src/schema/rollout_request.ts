/**
 * The request of `rollout()`: Cosmos 3 as a world model for an embodiment —
 * policy (image + instruction → actions + video), forward dynamics
 * (image + action chunk → video) and inverse dynamics (video → actions + video).
 *
 * @example
 * ```ts
 * import { RolloutRequest } from "./rollout_request.ts";
 * RolloutRequest.parse({
 *   mode: "forward_dynamics", embodiment: "av", image: "assets/road.png",
 *   actions: Array.from({ length: 16 }, () => Array(9).fill(0)),
 * });
 * ```
 * @module
 */
import { z } from "zod";
import { ActionChunk, ActionMode, Embodiment, EMBODIMENTS } from "./embodiments.ts";
import { DiffusionParams } from "./generate_request.ts";
import { ImageInput, VideoInput } from "./media_input.ts";

const RolloutShape = DiffusionParams.extend({
  mode: ActionMode,
  embodiment: Embodiment,
  /** Instruction (policy, inverse dynamics) or scene description (forward dynamics). */
  prompt: z.string().default(""),
  image: ImageInput.optional(),
  video: VideoInput.optional(),
  /** Forward dynamics: the action chunk, rows of the embodiment's dimension, or a path to a JSON file of it. */
  actions: z.union([ActionChunk, z.string().min(1)]).optional(),
  /** Actions per chunk predicted (policy / inverse dynamics) or consumed. */
  actionChunkSize: z.number().int().min(1).max(512).optional(),
  /** Overrides the embodiment's `domain_name` for servers that name it differently. */
  domainName: z.string().min(1).optional(),
}).strict();

/** `rollout()` request with each mode's input rules and the action-dimension check. */
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
    if (!r.image && !r.video) bad(["image"], "forward dynamics needs a start image (or video)", "an image or an MP4 video");
    if (!r.actions) bad(["actions"], "forward dynamics needs an action chunk", `rows of ${dim} numbers (${r.embodiment}) or a JSON file path`);
  }
  if (r.mode === "inverse_dynamics") {
    if (!r.video) bad(["video"], "inverse dynamics needs a video", "an MP4 video");
    if (r.actions) bad(["actions"], "inverse dynamics predicts actions; it takes none", "no actions");
  }
  if (Array.isArray(r.actions)) {
    r.actions.forEach((row, i) => {
      if (row.length !== dim) {
        bad(["actions", i], `row ${i} has ${row.length} values; ${r.embodiment} actions have ${dim}`, `${dim} numbers per row (${r.embodiment})`);
      }
    });
    if (r.actionChunkSize !== undefined && r.actionChunkSize !== r.actions.length) {
      bad(["actionChunkSize"], `actionChunkSize ${r.actionChunkSize} differs from the ${r.actions.length} rows given`, String(r.actions.length));
    }
  }
  if (r.image && r.video) bad(["video"], "give an image or a video, not both", "image or video");
});
export type RolloutRequestInput = z.input<typeof RolloutRequest>;
export type RolloutRequest = z.output<typeof RolloutRequest>;
