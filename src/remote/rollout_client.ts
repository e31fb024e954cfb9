/**
 * Cosmos 3 as a world model on vLLM-Omni (seed, "action modes"): policy and inverse
 * dynamics run as asynchronous `POST /v1/videos` jobs (video + predicted action chunk
 * back); forward dynamics runs on `POST /v1/videos/sync` with the action chunk given as
 * `extra_params.action_path` — a JSON file the server reads, so it must lie under the
 * server's `--allowed-local-media-path` (`backend.allowedLocalMediaPath`).
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
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeBackend } from "../backend/resolve.ts";
import { RemoteError, UnsupportedError } from "../errors.ts";
import { parseActionChunk } from "../media/actions.ts";
import { isUnderRoot } from "../reasoner/messages.ts";
import { EMBODIMENTS } from "../schema/embodiments.ts";
import type { RolloutResult } from "../schema/results.ts";
import type { RolloutRequest } from "../schema/rollout_request.ts";
import { filePartOf, multipartInit, videoForm } from "./form.ts";
import { diffusionFields, generatorHttp, VIDEO_SYNC_TIMEOUT_MS } from "./generator_client.ts";
import { apiBase, readBytes, request } from "./http.ts";
import { findActionChunk, runVideoJob } from "./jobs.ts";
import type { RemoteBackend, RemoteOptions } from "./options.ts";
import { defaultOutputPath, writeVideoOutput } from "./output.ts";

/** `extra_params` of a rollout request (`action_path` added by the caller for forward dynamics). */
export function rolloutExtraParams(req: RolloutRequest): Record<string, unknown> {
  const emb = EMBODIMENTS[req.embodiment];
  const p: Record<string, unknown> = {
    action_mode: req.mode,
    domain_name: req.domainName ?? emb.domainName,
    raw_action_dim: emb.actionDim,
  };
  const chunk = req.actionChunkSize ?? (Array.isArray(req.actions) ? req.actions.length : undefined);
  if (chunk !== undefined) p.action_chunk_size = chunk;
  p.use_resolution_template = req.useResolutionTemplate;
  p.use_duration_template = req.useDurationTemplate;
  p.guardrails = req.guardrails;
  return p;
}

/**
 * The server-visible action file of a forward-dynamics request: a given path under the
 * allowed root is used as-is; otherwise the (validated) chunk is written to
 * `<allowedLocalMediaPath>/.cosmos-ts/actions-<random>.json` and removed afterwards.
 * @throws {UnsupportedError} when no allowed root is configured.
 */
export async function actionFileFor(req: RolloutRequest, root: string | undefined): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dim = EMBODIMENTS[req.embodiment].actionDim;
  if (!root) {
    throw new UnsupportedError("Forward dynamics on vLLM-Omni reads the action chunk from a file on the server (extra_params.action_path).", {
      hint: "Set allowedLocalMediaPath (COSMOS_ALLOWED_LOCAL_MEDIA_PATH) to a folder this machine and the server share, and start the server with --allowed-local-media-path covering it.",
    });
  }
  if (typeof req.actions === "string" && !req.actions.startsWith("data:")) {
    const path = resolve(req.actions.startsWith("file://") ? fileURLToPath(req.actions) : req.actions);
    if (isUnderRoot(path, root)) return { path, cleanup: async () => {} };
  }
  const chunk = typeof req.actions === "string"
    ? parseActionChunk(JSON.parse(new TextDecoder().decode(await readFile(resolve(req.actions.startsWith("file://") ? fileURLToPath(req.actions) : req.actions)))), { dim })
    : parseActionChunk(req.actions, { dim });
  const dir = join(resolve(root), ".cosmos-ts");
  await mkdir(dir, { recursive: true });
  const path = join(dir, `actions-${Date.now()}-${randomBytes(4).toString("hex")}.json`);
  await writeFile(path, JSON.stringify(chunk));
  return { path, cleanup: () => rm(path, { force: true }) };
}

/**
 * Runs a rollout on a vLLM-Omni server.
 * @throws {RemoteError} when the server refuses or fails; {@link AbortError} on abort.
 */
export async function remoteRollout(req: RolloutRequest, backend: RemoteBackend, opts: RemoteOptions = {}): Promise<RolloutResult> {
  const base = apiBase(backend.url);
  const label = describeBackend({ kind: "remote", url: backend.url, ...(backend.model ? { model: backend.model } : {}) });
  const dim = EMBODIMENTS[req.embodiment].actionDim;
  const extra = rolloutExtraParams(req);
  const fields = diffusionFields(req, backend.model);
  const ref = req.image ?? req.video;
  opts.onProgress?.({ stage: "upload", message: "Uploading the observation" });
  const file = ref !== undefined ? await filePartOf(ref, opts.signal) : undefined;
  const out = req.outputPath ?? defaultOutputPath(req.mode, "mp4");

  if (req.mode === "forward_dynamics") {
    const action = await actionFileFor(req, backend.allowedLocalMediaPath);
    try {
      extra.action_path = action.path;
      fields.push(["extra_params", JSON.stringify(extra)]);
      const res = await request(
        `${base}/videos/sync`,
        multipartInit(videoForm(fields, file)),
        generatorHttp(backend, opts, "Forward dynamics", VIDEO_SYNC_TIMEOUT_MS),
      );
      opts.onProgress?.({ stage: "download", message: "Receiving the video" });
      const video = await writeVideoOutput(await readBytes(res, opts.signal), out, opts.signal);
      return { mode: req.mode, embodiment: req.embodiment, video, backend: label };
    } finally {
      await action.cleanup();
    }
  }

  fields.push(["extra_params", JSON.stringify(extra)]);
  const { job, video } = await runVideoJob(base, videoForm(fields, file), {
    ...generatorHttp(backend, opts, req.mode === "policy" ? "Policy rollout" : "Inverse dynamics"),
    pollIntervalMs: opts.pollIntervalMs,
    jobTimeoutMs: opts.jobTimeoutMs,
    onProgress: opts.onProgress,
  });
  const raw = findActionChunk(job, dim) ?? findActionChunk(job);
  if (!raw) {
    throw new RemoteError(`The completed ${req.mode} job ${job.id} carries no action chunk.`, {
      hint: "Check that the server supports action modes (vLLM-Omni with Cosmos 3 action support) and the embodiment settings.",
    });
  }
  const actions = parseActionChunk(raw, { dim, field: "actions (server)" });
  const written = await writeVideoOutput(video, out, opts.signal);
  return { mode: req.mode, embodiment: req.embodiment, video: written, actions, backend: label };
}
