/**
 * Runs ffmpeg/ffprobe as child processes with pipes, and makes sure every child dies:
 * on abort (AbortSignal), on error, when the caller stops early, and when the child
 * makes no progress for `idleTimeoutMs` while we wait on it (so bad input never hangs).
 *
 * @example
 * ```ts
 * import { runFfmpeg } from "./process.ts";
 * const { stderr } = await runFfmpeg(["-version"], { what: "ffmpeg -version" });
 * ```
 * @module
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { AbortError, MediaError } from "../errors.ts";
import { resolveFfmpeg } from "./ffmpeg_path.ts";

/** Default time a child may stay silent while we wait on it. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Options shared by every media call that runs ffmpeg. */
export interface ProcessOptions {
  /** Cancels the work and kills the child. */
  signal?: AbortSignal;
  /** Kill the child when it shows no progress for this long while we wait on it (default 30 s). */
  idleTimeoutMs?: number;
}

const MAX_STDERR = 64 * 1024;
/**
 * The leading flags of our ffmpeg runs: no banner, no stdin, only errors on stderr, and `-progress pipe:2`
 * lines (which feed the idle watchdog below) instead of the interactive stats line.
 */
export const FFMPEG_QUIET_WITH_PROGRESS: readonly string[] = Object.freeze([
  "-hide_banner",
  "-nostdin",
  "-v",
  "error",
  "-nostats",
  "-progress",
  "pipe:2",
]);
// `-progress pipe:2` lines (key=value) keep the idle watchdog fed; they are not errors.
const PROGRESS_LINE = /^[a-z_0-9]+=\S*$/;

/** A running child with its collected stderr. */
export class MediaChild {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly what: string;
  /** Resolves when the process has exited and its pipes are closed. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private stderrText = "";
  private lastActivity = Date.now();
  private running = true;
  private spawnError?: Error;
  private abortCleanup?: () => void;
  /** Set when we killed the child because it stalled. */
  timedOut = false;

  constructor(bin: string, args: string[], what: string, signal?: AbortSignal) {
    this.what = what;
    this.proc = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr.setEncoding("utf8");
    this.proc.stderr.on("data", (s: string) => {
      this.touch();
      this.stderrText += s;
      if (this.stderrText.length > MAX_STDERR) {
        // keep the head (first error) and the tail
        this.stderrText = this.stderrText.slice(0, MAX_STDERR / 4) + "\n…\n" +
          this.stderrText.slice(-MAX_STDERR / 2);
      }
    });
    this.proc.stdout.on("data", () => this.touch());
    // EPIPE on stdin when the child died first is reported through the exit status instead.
    this.proc.stdin.on("error", () => {});
    this.exited = new Promise((resolveExit) => {
      this.proc.on("error", (e) => {
        this.spawnError = e;
        this.running = false;
        resolveExit({ code: null, signal: null });
      });
      this.proc.on("close", (code, sig) => {
        this.running = false;
        this.abortCleanup?.();
        resolveExit({ code, signal: sig });
      });
    });
    if (signal) {
      const onAbort = () => this.kill();
      signal.addEventListener("abort", onAbort, { once: true });
      this.abortCleanup = () => signal.removeEventListener("abort", onAbort);
      if (signal.aborted) this.kill();
    }
  }

  /** Marks progress (resets the idle watchdog). */
  touch(): void {
    this.lastActivity = Date.now();
  }

  /** Whether the process is still running. */
  get isRunning(): boolean {
    return this.running;
  }

  /** stderr without progress lines. */
  get stderr(): string {
    return this.stderrText.split(/\r?\n/).filter((l) => l.trim() && !PROGRESS_LINE.test(l.trim())).join("\n");
  }

  /** stderr as ffmpeg wrote it (progress lines included). */
  get rawStderr(): string {
    return this.stderrText;
  }

  /** The spawn failure (binary missing), if any. */
  get startError(): Error | undefined {
    return this.spawnError;
  }

  /** Kills the child (SIGKILL) if it still runs. */
  kill(): void {
    if (this.running) {
      try {
        this.proc.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** Kills the child and waits (bounded) until it is gone. */
  async dispose(): Promise<void> {
    this.kill();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
  }

  /**
   * Waits for `p` while watching the child: rejects with {@link AbortError} on abort and
   * with {@link MediaError} (after killing the child) when it stays idle for `idleMs`.
   */
  async watch<T>(p: Promise<T>, idleMs: number, signal?: AbortSignal): Promise<T> {
    this.touch();
    let timer: ReturnType<typeof setInterval> | undefined;
    let onAbort: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (Date.now() - this.lastActivity > idleMs && this.running) {
          this.timedOut = true;
          this.kill();
          reject(this.stallError(idleMs));
        }
      }, Math.max(10, Math.min(250, idleMs / 4)));
      if (signal) {
        onAbort = () => {
          this.kill();
          reject(new AbortError(`${this.what} was aborted.`, { cause: signal.reason }));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }
    });
    try {
      return await Promise.race([p, guard]);
    } finally {
      clearInterval(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The error for a stalled child. */
  stallError(idleMs: number): MediaError {
    const line = relevantStderr(this.stderr);
    return new MediaError(
      `${this.what} made no progress for ${idleMs} ms and was stopped${line ? `; ffmpeg says: ${line}` : ""}.`,
      {
        hint:
          "The input may be a pipe that never delivers data, or unreadable; check the file, or raise idleTimeoutMs.",
      },
    );
  }

  /** The error for a failed run, quoting ffmpeg's relevant stderr lines. */
  failure(code: number | null, fallback = "ffmpeg failed"): MediaError {
    if (this.spawnError) {
      return new MediaError(`Could not start ffmpeg for ${this.what}: ${this.spawnError.message}`, {
        hint: "Install ffmpeg (`apt-get install ffmpeg`) or set FFMPEG_BIN.",
        cause: this.spawnError,
      });
    }
    const line = relevantStderr(this.stderr);
    return new MediaError(
      `${this.what} failed (exit ${code ?? "signal"}): ${line ? `ffmpeg says: ${line}` : fallback}.`,
      { hint: "The input is corrupt, truncated or not a supported video/audio file; re-export it as MP4 (H.264)." },
    );
  }
}

/**
 * The most useful part of ffmpeg's stderr: its first error lines, without the
 * `[demuxer @ 0x55…]` addresses, joined with " | ".
 */
export function relevantStderr(stderr: string, maxLines = 3): string {
  const lines = stderr.split(/\r?\n/)
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/gi, "]").trim())
    .filter((l) => l && !PROGRESS_LINE.test(l) && !/^(…|Press \[q\]|Last message repeated)/.test(l));
  const important = lines.filter((l) =>
    /error|invalid|not found|no such|partial file|corrupt|unsupported|does not contain|could not|failed|truncat|moov|matches no streams/i
      .test(l)
  );
  const pick = important.length ? important : lines.slice(-maxLines);
  return [...new Set(pick)].slice(0, maxLines).join(" | ");
}

/** Starts ffmpeg (or another binary, e.g. ffprobe) with pipes. */
export function startMedia(
  args: string[],
  what: string,
  opts: { signal?: AbortSignal; bin?: string } = {},
): MediaChild {
  if (opts.signal?.aborted) throw new AbortError(`${what} was aborted.`, { cause: opts.signal.reason });
  return new MediaChild(opts.bin ?? resolveFfmpeg(), args, what, opts.signal);
}

/** Result of {@link runFfmpeg}. */
export interface RunResult {
  stdout: Uint8Array;
  stderr: string;
  /** stderr with `-progress` lines. */
  rawStderr: string;
  code: number | null;
}

/**
 * Runs a child to completion, collecting stdout (capped at `maxStdout` bytes) and stderr.
 * Rejects with MediaError on a non-zero exit unless `allowFailure` is set.
 */
export async function runFfmpeg(
  args: string[],
  opts: ProcessOptions & { what: string; bin?: string; input?: Uint8Array; allowFailure?: boolean; maxStdout?: number },
): Promise<RunResult> {
  const child = startMedia(args, opts.what, opts);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const max = opts.maxStdout ?? 1 << 30;
  child.proc.stdout.on("data", (c: Uint8Array) => {
    size += c.byteLength;
    if (size > max) {
      child.kill();
      return;
    }
    chunks.push(c);
  });
  if (opts.input) child.proc.stdin.end(opts.input);
  else child.proc.stdin.end();
  try {
    const { code } = await child.watch(child.exited, opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, opts.signal);
    if (child.startError) throw child.failure(code);
    if (size > max) throw new MediaError(`${opts.what} produced more than ${max} bytes.`);
    if (code !== 0 && !opts.allowFailure) throw child.failure(code);
    const out = new Uint8Array(size);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    return { stdout: out, stderr: child.stderr, rawStderr: child.rawStderr, code };
  } finally {
    await child.dispose();
  }
}

let fpsModeArgs: string[] | undefined;

/**
 * Arguments that keep every decoded frame as is (no duplication or dropping):
 * `-fps_mode passthrough` on ffmpeg ≥ 5.1, `-vsync passthrough` before.
 */
export async function passthroughArgs(signal?: AbortSignal): Promise<string[]> {
  if (fpsModeArgs) return fpsModeArgs;
  try {
    const r = await runFfmpeg(["-hide_banner", "-version"], { what: "ffmpeg -version", signal, idleTimeoutMs: 10_000 });
    const m = /ffmpeg version n?(\d+)\.(\d+)/.exec(new TextDecoder().decode(r.stdout));
    const old = m !== null && (Number(m[1]) < 5 || (Number(m[1]) === 5 && Number(m[2]) < 1));
    fpsModeArgs = old ? ["-vsync", "passthrough"] : ["-fps_mode", "passthrough"];
  } catch {
    fpsModeArgs = ["-fps_mode", "passthrough"];
  }
  return fpsModeArgs;
}
