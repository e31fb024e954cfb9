/**
 * vLLM-Omni's asynchronous video jobs (documented in its Videos API): `POST /v1/videos`
 * creates a job, `GET /v1/videos/{id}` reports it, `GET /v1/videos/{id}/content`
 * downloads the video, `DELETE /v1/videos/{id}` deletes it (used to cancel on abort).
 *
 * The job object follows OpenAI's videos API, which vLLM-Omni mirrors: `id`,
 * `status` (`queued` | `in_progress` | `completed` | `failed`), `progress` (0–100) and
 * `error: { message }`. Where the action chunk of a policy / inverse-dynamics job sits
 * in the completed job could not be confirmed (vLLM-Omni PR #4102 was in review), so
 * {@link findActionChunk} looks in the likely places (see there).
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
import { AbortError, RemoteError } from "../errors.ts";
import type { ProgressEvent } from "../schema/results.ts";
import { type MultipartBody, multipartInit } from "./form.ts";
import { type HttpOptions, readBytes, readJson, request, sleep } from "./http.ts";

/** A video job as the server reports it. */
export interface VideoJob {
  id: string;
  status: string;
  progress?: number;
  error?: { message?: string; code?: string } | string | null;
  [key: string]: unknown;
}

/** Options of {@link runVideoJob}. */
export interface VideoJobOptions extends HttpOptions {
  /** ms between polls (default 2000). */
  pollIntervalMs?: number;
  /** Give up (and delete the job) after this many ms (default 2 h). */
  jobTimeoutMs?: number;
  onProgress?: (event: ProgressEvent) => void;
}

function asJob(v: unknown, what: string): VideoJob {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== "object" || typeof o.id !== "string" || typeof o.status !== "string") {
    throw new RemoteError(`${what}: the server's job object has no id / status: ${JSON.stringify(v).slice(0, 200)}`, {
      hint: "Check that the URL points at a vLLM-Omni server with the Videos API.",
    });
  }
  return o as VideoJob;
}

function jobError(job: VideoJob): string {
  const e = job.error;
  if (typeof e === "string") return e;
  return e?.message ?? "no reason given";
}

/** Deletes a job, best effort (used when the caller aborts); never throws. */
export async function deleteVideoJob(base: string, id: string, opts: Pick<HttpOptions, "apiKey">): Promise<boolean> {
  try {
    const res = await request(`${base}/videos/${encodeURIComponent(id)}`, { method: "DELETE" }, {
      what: "Cancelling the video job",
      apiKey: opts.apiKey,
      retries: 0,
      timeoutMs: 10_000,
    });
    await res.body?.cancel().catch(() => {});
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a job, polls it to completion and downloads its video.
 * On abort (or the job timeout) the job is deleted on the server.
 * @throws {RemoteError} when the job fails; {@link AbortError} on abort.
 */
export async function runVideoJob(base: string, form: MultipartBody, opts: VideoJobOptions): Promise<{ job: VideoJob; video: Uint8Array }> {
  const created = asJob(
    await readJson(await request(`${base}/videos`, multipartInit(form), opts), opts.what, opts.signal),
    opts.what,
  );
  const id = created.id;
  const deadline = Date.now() + (opts.jobTimeoutMs ?? 2 * 3600_000);
  const poll = opts.pollIntervalMs ?? 2000;
  let job = created;
  try {
    while (job.status !== "completed") {
      if (job.status === "failed" || job.status === "cancelled") {
        throw new RemoteError(`${opts.what} failed on the server: ${jobError(job)}`, {
          serverMessage: jobError(job),
          hint: "The server's log says more; check the embodiment (domain_name, raw_action_dim) and inputs.",
        });
      }
      opts.onProgress?.(
        job.status === "queued"
          ? { stage: "queue", message: `Job ${id} queued` }
          : { stage: "denoise", ...(typeof job.progress === "number" ? { done: job.progress, total: 100 } : {}), message: `Job ${id} ${job.status}` },
      );
      if (Date.now() > deadline) {
        throw new RemoteError(`${opts.what}: job ${id} did not finish in ${Math.round((opts.jobTimeoutMs ?? 0) / 1000)} s.`, {
          hint: "Raise jobTimeoutMs, or check the server's queue.",
        });
      }
      await sleep(poll, opts.signal);
      job = asJob(
        await readJson(await request(`${base}/videos/${encodeURIComponent(id)}`, { method: "GET" }, { ...opts, timeoutMs: opts.timeoutMs ?? 60_000 }), opts.what, opts.signal),
        opts.what,
      );
    }
    opts.onProgress?.({ stage: "download", message: `Downloading job ${id}` });
    const res = await request(`${base}/videos/${encodeURIComponent(id)}/content`, { method: "GET" }, opts);
    return { job, video: await readBytes(res, opts.signal) };
  } catch (e) {
    const aborted = e instanceof AbortError || opts.signal?.aborted;
    const timedOut = e instanceof RemoteError && Date.now() > deadline;
    if (aborted || timedOut) await deleteVideoJob(base, id, opts);
    if (aborted && !(e instanceof AbortError)) throw new AbortError(undefined, { cause: opts.signal?.reason });
    throw e;
  }
}

const ACTION_KEYS = ["actions", "action", "action_chunk", "predicted_actions", "action_values"];
const NESTED_KEYS = ["result", "output", "outputs", "extra", "metadata", "data"];

function isChunk(v: unknown, dim?: number): v is number[][] {
  return Array.isArray(v) && v.length > 0 &&
    v.every((r) => Array.isArray(r) && r.length > 0 && r.every((x) => typeof x === "number") && (dim === undefined || r.length === dim));
}

/**
 * The action chunk of a completed job. Looks at `actions` / `action` / `action_chunk` /
 * `predicted_actions` at the top level and under `result` / `output(s)` / `extra` /
 * `metadata` / `data` (also when those hold a JSON string), then anywhere for a
 * `number[][]` whose rows have `dim` values.
 */
export function findActionChunk(job: unknown, dim?: number): number[][] | undefined {
  const seen = new Set<unknown>();
  const parsed = (v: unknown): unknown => {
    if (typeof v === "string" && /^\s*[[{]/.test(v)) {
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    }
    return v;
  };
  const direct = (o: unknown, depth: number): number[][] | undefined => {
    o = parsed(o);
    if (isChunk(o, dim)) return o;
    if (!o || typeof o !== "object" || depth > 3 || seen.has(o)) return undefined;
    seen.add(o);
    const rec = o as Record<string, unknown>;
    for (const k of ACTION_KEYS) {
      const v = parsed(rec[k]);
      if (isChunk(v, dim)) return v;
      if (v && typeof v === "object") {
        const inner = direct(v, depth + 1);
        if (inner) return inner;
      }
    }
    for (const k of NESTED_KEYS) {
      const inner = rec[k] !== undefined ? direct(rec[k], depth + 1) : undefined;
      if (inner) return inner;
    }
    return undefined;
  };
  const found = direct(job, 0);
  if (found) return found;
  const anywhere = (v: unknown, depth: number): number[][] | undefined => {
    v = parsed(v);
    if (dim !== undefined && isChunk(v, dim)) return v;
    if (!v || typeof v !== "object" || depth > 6) return undefined;
    for (const x of Object.values(v as Record<string, unknown>)) {
      const r = anywhere(x, depth + 1);
      if (r) return r;
    }
    return undefined;
  };
  return anywhere(job, 0);
}
