/**
 * vLLM-Omni's asynchronous video jobs (`vllm_omni/entrypoints/openai/api_server.py` at
 * vraiti/vllm-omni `d6240742`): `POST /v1/videos` creates a job (:3090-3130),
 * `GET /v1/videos/{id}` reports it (:3250-3275), `GET /v1/videos/{id}/content` downloads the
 * video (:3330-3360), `DELETE /v1/videos/{id}` cancels and deletes it (:3278-3327).
 *
 * The job object is `VideoResponse` (`protocol/videos.py:292-346`): `id`, `status`
 * (`queued` | `in_progress` | `completed` | `failed`), `progress` (the server writes only
 * 0 and 100), `error: {code, message}` and, for policy / inverse dynamics, `action:
 * {data, shape, dtype, raw_action_dim, action_mode, domain_id}` (`protocol/videos.py:252-260`,
 * set at api_server.py:2877-2887). A failed job comes back from the status poll as an
 * HTTP 4xx/5xx whose body is the job, under the job's own error code (:3266-3274); that is
 * the job's failure, not a transient one, so it is reported at once and never retried.
 *
 * @example
 * ```ts
 * import { runVideoJob } from "./jobs.ts";
 * import { videoForm } from "./form.ts";
 * const form = videoForm([["prompt", "Pick up the cup."]]);
 * const { job, video } = await runVideoJob("http://127.0.0.1:8000/v1", form, { what: "Policy rollout" });
 * ```
 * @module
 */
import { z } from "zod";
import { AbortError, RemoteError, TimeoutError } from "../errors.ts";
import type { ProgressEvent } from "../schema/results.ts";
import { type MultipartBody, multipartInit } from "./form.ts";
import {
  DEFAULT_POLL_TIMEOUT_MS,
  hintFor,
  type HttpOptions,
  readBytes,
  readJson,
  readText,
  request,
  serverMessageOf,
  sleep,
} from "./http.ts";

/** The statuses of `VideoGenerationStatus` (protocol/videos.py:22-27). */
export const JOB_STATUSES = ["queued", "in_progress", "completed", "failed"] as const;

/** The action chunk of a completed job (`VideoAction`, protocol/videos.py:252-260). */
export const VideoAction = z.object({
  data: z.array(z.unknown()),
  shape: z.array(z.number().int().min(0)),
  dtype: z.string().nullish(),
  raw_action_dim: z.number().int().nullish(),
  action_mode: z.string().nullish(),
  domain_id: z.number().int().nullish(),
});
export type VideoAction = z.infer<typeof VideoAction>;

/** A video job as the server reports it (`VideoResponse`; other fields kept as they come). */
export const VideoJob = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  progress: z.number().optional(),
  error: z.object({ code: z.union([z.number(), z.string()]).optional(), message: z.string().optional() }).nullish(),
  action: VideoAction.nullish(),
});
export type VideoJob = z.infer<typeof VideoJob>;

/** Options of {@link runVideoJob}. */
export interface VideoJobOptions extends HttpOptions {
  /** ms between polls (default 2000). */
  pollIntervalMs?: number;
  /** Give up (and delete the job) after this many ms (default 2 h). */
  jobTimeoutMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Checks the completed job before its video is downloaded; what it throws ends the run (the job is left on the server). */
  checkCompleted?: (job: VideoJob) => void;
}

/** Validates a job object; anything else is a {@link RemoteError} saying what the server returned. */
export function parseVideoJob(v: unknown, what: string): VideoJob {
  const r = VideoJob.safeParse(v);
  if (!r.success) {
    const where = r.error.issues[0]?.path.join(".") || "(job)";
    throw new RemoteError(
      `${what}: the server returned a job object that is not vLLM-Omni's (${where}: ${
        r.error.issues[0]?.message ?? "invalid"
      }).`,
      {
        hint: "Check that the URL points at a vLLM-Omni server with the Videos API.",
      },
    );
  }
  return r.data;
}

function jobError(job: VideoJob): string {
  return job.error?.message || "no reason given";
}

/** The {@link RemoteError} of a failed job: its own message and code, never retried. */
export function failedJobError(job: VideoJob, what: string, status?: number): RemoteError {
  const code = typeof job.error?.code === "number" ? job.error.code : status;
  return new RemoteError(
    `${what} failed on the server (job ${job.id}${code ? `, code ${code}` : ""}): ${jobError(job)}`,
    {
      ...(code ? { status: code } : {}),
      serverMessage: jobError(job),
      hint: code !== undefined && code >= 400 && code < 500
        ? "The server refused the request (a guardrail, an input or a setting); change it and run again."
        : "The job failed on the server; its log says why (embodiment, domain_name, inputs, memory).",
    },
  );
}

/**
 * Deletes a job, best effort (used when the caller aborts); never throws. A 409 ("Cancellation
 * in progress", api_server.py:3299-3306: the server cancelled the task but it did not stop
 * within 2 s) is asked again twice, a second apart, and is otherwise not an error: the task
 * is already cancelled.
 * @returns `"deleted"`, `"cancelling"` (still 409) or `"failed"`.
 */
export async function deleteVideoJob(
  base: string,
  id: string,
  opts: Pick<HttpOptions, "apiKey">,
): Promise<"deleted" | "cancelling" | "failed"> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const res = await request(`${base}/videos/${encodeURIComponent(id)}`, { method: "DELETE" }, {
        what: "Cancelling the video job",
        apiKey: opts.apiKey,
        retries: 0,
        timeoutMs: 10_000,
        passStatus: (s) => s === 409,
      });
      await res.body?.cancel().catch(() => {});
      if (res.status !== 409) return "deleted";
    } catch {
      return "failed";
    }
    if (attempt < 2) await sleep(1000);
  }
  return "cancelling";
}

/** Polls the job once: the job, or the failed job's error, or a transient answer to poll again after. */
async function pollOnce(base: string, id: string, opts: VideoJobOptions): Promise<VideoJob | "transient"> {
  const res = await request(`${base}/videos/${encodeURIComponent(id)}`, { method: "GET" }, {
    ...opts,
    retries: 0,
    timeoutMs: opts.timeoutMs ?? DEFAULT_POLL_TIMEOUT_MS,
    passStatus: (s) => s >= 400,
  });
  if (res.ok) return parseVideoJob(await readJson(res, opts.what, opts.signal), opts.what);
  const text = await readText(res, opts.signal);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch { /* not a job */ }
  const failed = VideoJob.safeParse(body);
  if (failed.success && failed.data.status === "failed") throw failedJobError(failed.data, opts.what, res.status);
  if (res.status === 429 || res.status === 503) return "transient";
  const serverMessage = serverMessageOf(text);
  throw new RemoteError(
    `${opts.what}: polling job ${id} failed: HTTP ${res.status}${serverMessage ? `: ${serverMessage}` : ""}`,
    {
      status: res.status,
      serverMessage,
      hint: res.status === 404
        ? "The job is gone from the server (deleted, expired, or the server restarted); run the request again."
        : hintFor(res.status, serverMessage),
    },
  );
}

/**
 * Creates a job, polls it to completion and downloads its video.
 * On abort (or the job timeout) the job is deleted on the server.
 * @throws {RemoteError} when the job fails or reports a status vLLM-Omni does not have;
 * {@link AbortError} on abort.
 */
export async function runVideoJob(
  base: string,
  form: MultipartBody,
  opts: VideoJobOptions,
): Promise<{ job: VideoJob; video: Uint8Array }> {
  const created = parseVideoJob(
    await readJson(await request(`${base}/videos`, multipartInit(form), opts), opts.what, opts.signal),
    opts.what,
  );
  const id = created.id;
  const jobTimeoutMs = opts.jobTimeoutMs ?? 2 * 3600_000;
  const deadline = Date.now() + jobTimeoutMs;
  const poll = opts.pollIntervalMs ?? 2000;
  let job = created;
  let timedOut = false;
  try {
    while (job.status !== "completed") {
      if (job.status === "failed") throw failedJobError(job, opts.what);
      if (!(JOB_STATUSES as readonly string[]).includes(job.status)) {
        throw new RemoteError(
          `${opts.what}: job ${id} reports status "${job.status.slice(0, 40)}", which vLLM-Omni does not have (${
            JOB_STATUSES.join(", ")
          }).`,
          {
            hint:
              "Check that the URL points at a vLLM-Omni server with the Videos API; the job was left on the server.",
          },
        );
      }
      opts.onProgress?.(
        job.status === "queued" ? { stage: "queue", message: `Job ${id} queued` } : {
          stage: "denoise",
          ...(typeof job.progress === "number" ? { done: job.progress, total: 100 } : {}),
          message: `Job ${id} ${job.status}`,
        },
      );
      if (Date.now() > deadline) {
        timedOut = true;
        throw new TimeoutError(
          `${opts.what}: job ${id} timed out after ${
            Math.round(jobTimeoutMs / 1000)
          } s; it was cancelled on the server.`,
          {
            phase: "job",
            timeoutMs: jobTimeoutMs,
            option: "jobTimeoutMs",
            hint: "Raise jobTimeoutMs (default 2 h), or check the server's queue.",
          },
        );
      }
      await sleep(poll, opts.signal);
      const next = await pollOnce(base, id, opts);
      if (next !== "transient") job = next;
    }
    opts.checkCompleted?.(job);
    opts.onProgress?.({ stage: "download", message: `Downloading job ${id}` });
    const res = await request(`${base}/videos/${encodeURIComponent(id)}/content`, { method: "GET" }, opts);
    return { job, video: await readBytes(res, opts.signal) };
  } catch (e) {
    const aborted = e instanceof AbortError || opts.signal?.aborted;
    if (aborted || timedOut) await deleteVideoJob(base, id, opts);
    if (aborted && !(e instanceof AbortError)) throw new AbortError(undefined, { cause: opts.signal?.reason });
    throw e;
  }
}

/**
 * The action chunk of a completed policy / inverse-dynamics job: `action.data`, checked
 * against `action.shape` ([T, D], or [1, T, D] squeezed). Undefined when the job has no
 * `action`.
 * @throws {RemoteError} when `action` does not hold a [T, D] array of numbers matching its shape.
 */
export function actionChunkOf(job: VideoJob): number[][] | undefined {
  const a = job.action;
  if (!a) return undefined;
  let data: unknown = a.data;
  let shape = a.shape;
  if (shape.length === 3 && shape[0] === 1 && Array.isArray(data) && data.length === 1) {
    data = data[0];
    shape = shape.slice(1);
  }
  const rows = Array.isArray(data) ? data : [];
  const ok = shape.length === 2 && rows.length === shape[0] &&
    rows.every((r) => Array.isArray(r) && r.length === shape[1] && r.every((x) => typeof x === "number"));
  if (!ok) {
    throw new RemoteError(
      `The server returned an action for job ${job.id} whose data is not the [T, D] array of numbers its shape ${
        JSON.stringify(a.shape)
      } says.`,
      { hint: "Check the server's version (vLLM-Omni with Cosmos 3 action modes)." },
    );
  }
  return rows as number[][];
}
