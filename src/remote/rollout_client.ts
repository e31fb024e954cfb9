/**
 * Cosmos 3 as a world model on vLLM-Omni: policy and inverse dynamics run as asynchronous
 * `POST /v1/videos` jobs (video + predicted action chunk back, the chunk in the completed
 * job's `action`); forward dynamics runs on `POST /v1/videos/sync` with the action chunk
 * inline as `extra_params.action`, a JSON array of shape [T, D] (the only way the server
 * takes it: `pipeline_cosmos3.py:2371-2372`, `cosmos3/action.py:188-202`). Nothing is read
 * from the server's disk, so no `--allowed-local-media-path` is needed for actions.
 *
 * `extra_params` carries `action_mode`, `domain_name` (the server's table,
 * src/schema/embodiments.ts), `raw_action_dim`, `action_chunk_size` and, when set,
 * `resolution` (the tier the server sizes the observation to; a rollout sends no `size`).
 *
 * @example
 * ```ts
 * import { remoteRollout } from "./rollout_client.ts";
 * import { RolloutRequest } from "../schema/rollout_request.ts";
 * const r = await remoteRollout(
 *   RolloutRequest.parse({ mode: "policy", embodiment: "droid", image: "obs.png", prompt: "Pick up the cup." }),
 *   { url: "http://127.0.0.1:8000" },
 * );
 * console.log(r.actions?.length, r.video?.path);
 * ```
 * @module
 */
import { describeBackend } from "../backend/resolve.ts";
import { RemoteError } from "../errors.ts";
import { parseActionChunk, readActionChunk } from "../media/actions.ts";
import { EMBODIMENTS } from "../schema/embodiments.ts";
import type { ActionChunk } from "../schema/embodiments.ts";
import type { RolloutResult } from "../schema/results.ts";
import { RolloutRequest } from "../schema/rollout_request.ts";
import { RESOLUTION_KEY } from "../schema/settings.ts";
import { parseWith } from "../schema/validate.ts";
import { filePartOf, videoForm } from "./form.ts";
import { commonExtraParams, diffusionFields, videoBytes, videoJobOptions } from "./generator_client.ts";
import { apiBase, boundsOf } from "./http.ts";
import { actionChunkOf, runVideoJob } from "./jobs.ts";
import type { RemoteBackend, RemoteOptions } from "./options.ts";
import { defaultOutputPath, writeVideoOutput } from "./output.ts";

/**
 * The request with a forward-dynamics action file (path, `file://` URL or data URI) read into
 * inline rows and validated again by the schema, so its rows meet the same checks as inline
 * ones (width, finite values, `actionChunkSize` / `numFrames` tied to the rows) and
 * `effective` holds the chunk. Any other request is returned as it is.
 * @throws {ValidationError} naming the field; {@link MediaError} when the file cannot be read.
 */
export async function withActionRows(req: RolloutRequest): Promise<RolloutRequest> {
  if (typeof req.actions !== "string") return req;
  const rows = await readActionChunk(req.actions, { dim: EMBODIMENTS[req.embodiment].actionDim, field: "actions" });
  const { effective: _effective, ...input } = req;
  return parseWith(RolloutRequest, { ...input, actions: rows }, "request");
}

/**
 * `extra_params` of a rollout request: the forward-dynamics chunk goes inline as `action`, and
 * `action_chunk_size` is sent unless the model's default applies.
 */
export function rolloutExtraParams(req: RolloutRequest): Record<string, unknown> {
  const eff = req.effective;
  const p: Record<string, unknown> = {
    action_mode: req.mode,
    domain_name: eff.domainName,
    raw_action_dim: eff.rawActionDim,
  };
  if (!eff.defaulted.includes("actionChunkSize")) p.action_chunk_size = eff.actionChunkSize;
  if (Array.isArray(req.actions)) p.action = req.actions;
  if (req.resolution !== undefined) p.resolution = RESOLUTION_KEY[req.resolution];
  return { ...p, ...commonExtraParams(req) };
}

/** The form fields of a rollout: no `size` (the server sizes the observation), and `num_frames` tied to the chunk. */
function rolloutFields(req: RolloutRequest, model: string | undefined): [string, string][] {
  const frames = req.effective.defaulted.includes("numFrames") ? undefined : req.effective.numFrames;
  return diffusionFields({ ...req, numFrames: frames }, model, { size: false });
}

/**
 * Runs a rollout on a vLLM-Omni server.
 * @throws {RemoteError} when the server refuses or fails; {@link AbortError} on abort;
 * {@link ValidationError} when an action file does not fit the request.
 */
export async function remoteRollout(
  req: RolloutRequest,
  backend: RemoteBackend,
  opts: RemoteOptions = {},
): Promise<RolloutResult> {
  const base = apiBase(backend.url);
  const label = describeBackend({
    kind: "remote",
    url: backend.url,
    ...(backend.model ? { model: backend.model } : {}),
  });
  const dim = EMBODIMENTS[req.embodiment].actionDim;
  req = await withActionRows(req);
  const fields = rolloutFields(req, backend.model);
  fields.push(["extra_params", JSON.stringify(rolloutExtraParams(req))]);
  const ref = req.image ?? req.video;
  opts.onProgress?.({ stage: "upload", message: "Uploading the observation" });
  const file = ref !== undefined ? await filePartOf(ref, opts.signal, boundsOf(opts)) : undefined;
  const out = req.outputPath ?? defaultOutputPath(req.mode, "mp4");

  if (req.mode === "forward_dynamics") {
    const video = await writeVideoOutput(
      await videoBytes(base, videoForm(fields, file), backend, opts, "Forward dynamics"),
      out,
      opts.signal,
    );
    return { mode: req.mode, embodiment: req.embodiment, video, backend: label };
  }

  let actions: ActionChunk | undefined;
  const { video } = await runVideoJob(base, videoForm(fields, file), {
    ...videoJobOptions(backend, opts, req.mode === "policy" ? "Policy rollout" : "Inverse dynamics"),
    checkCompleted: (job) => {
      const raw = actionChunkOf(job);
      if (!raw) {
        throw new RemoteError(
          `The completed ${req.mode} job ${job.id} carries no action chunk (the server returned no "action" object).`,
          {
            hint:
              "Check that the server runs a Cosmos 3 checkpoint with action support (vLLM-Omni with Cosmos 3 action modes).",
          },
        );
      }
      try {
        actions = parseActionChunk(raw, { dim, field: "actions" });
      } catch (e) {
        throw new RemoteError(
          `The server returned an action chunk that does not fit ${req.embodiment} (${dim} values per row): ${
            (e as Error).message.split("\n")[0]
          }`,
          {
            hint: "Check the embodiment and the server's domain_name / raw_action_dim handling.",
            cause: e,
          },
        );
      }
    },
  });
  const written = await writeVideoOutput(video, out, opts.signal);
  return { mode: req.mode, embodiment: req.embodiment, video: written, actions, backend: label };
}
