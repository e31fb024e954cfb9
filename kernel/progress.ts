/**
 * Progress bars for long work (denoising steps, frame decoding, checkpoint loading), updated in
 * place with rate and ETA, throttled. `progressReporter()` turns the `onProgress` events of
 * `reason()` / `generate()` / `rollout()` into one bar per stage.
 *
 * @example
 * ```ts
 * import { progressBar } from "./progress.ts";
 * const bar = progressBar({ label: "denoise", total: 35 });
 * for (let i = 0; i < 35; i++) bar.tick();
 * await bar.done();
 * ```
 * @module
 */
import process from "node:process";
import { LiveDisplay } from "./live.ts";
import { hasRichDisplay } from "./runtime.ts";
import { escapeHtml, type MimeBundle } from "./mime.ts";

/** What a progress bar shows. */
export interface ProgressState {
  label: string;
  done: number;
  total?: number;
  /** Milliseconds since the bar started. */
  elapsedMs: number;
  message?: string;
  finished: boolean;
  unit?: string;
}

/**
 * Seconds as `"42s"`, `"3:07"` or `"1:02:03"`.
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * formatDuration(187); // "3:07"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Estimated seconds left from the rate so far; undefined before the first step or without total.
 * @example
 * ```ts
 * import { etaSeconds } from "./progress.ts";
 * etaSeconds({ label: "x", done: 5, total: 20, elapsedMs: 10_000, finished: false }); // 30
 * ```
 */
export function etaSeconds(s: ProgressState): number | undefined {
  if (!s.total || s.done <= 0 || s.finished) return s.finished ? 0 : undefined;
  return ((s.elapsedMs / 1000) / s.done) * Math.max(0, s.total - s.done);
}

/**
 * One line of text: `denoise  12/35 (34%) 2.1 it/s, ETA 11s`.
 * @example
 * ```ts
 * import { progressLine } from "./progress.ts";
 * progressLine({ label: "load", done: 1, total: 4, elapsedMs: 2000, finished: false }); // "load 1/4 (25%) · 0.5 it/s · ETA 6s"
 * ```
 */
export function progressLine(s: ProgressState): string {
  const unit = s.unit ?? "it";
  const count = s.total
    ? ` ${s.done}/${s.total} (${Math.floor((100 * s.done) / s.total)}%)`
    : s.done > 0
    ? ` ${s.done}`
    : "";
  const parts: string[] = [`${s.label}${count}`];
  const secs = s.elapsedMs / 1000;
  if (s.done > 0 && secs > 0) parts.push(`${(s.done / secs).toFixed(s.done / secs < 10 ? 1 : 0)} ${unit}/s`);
  const eta = etaSeconds(s);
  parts.push(
    s.finished
      ? `done in ${formatDuration(secs)}`
      : eta === undefined
      ? `${formatDuration(secs)} elapsed`
      : `ETA ${formatDuration(eta)}`,
  );
  if (s.message) parts.push(s.message);
  return parts.join(" · ");
}

/**
 * The bar's MIME bundle: an HTML bar (`<progress>` element) with the text line, and `text/plain`.
 * @example
 * ```ts
 * import { progressBundle } from "./progress.ts";
 * progressBundle({ label: "decode", done: 3, total: 10, elapsedMs: 500, finished: false });
 * ```
 */
export function progressBundle(s: ProgressState): MimeBundle {
  // Without a total the bar is indeterminate while it runs (browsers animate it, and some draw it
  // half-filled), so a finished bar without a count is drawn full: done, not half-way.
  const value = s.total ? `value="${s.done}" max="${s.total}"` : s.finished ? `value="1" max="1"` : "";
  return {
    "text/html":
      `<div class="cosmos-progress" data-done="${s.done}" data-total="${
        s.total ?? ""
      }" data-finished="${s.finished}" ` +
      `style="font:12px sans-serif;display:flex;gap:8px;align-items:center">` +
      `<progress ${value} style="width:260px;height:14px"></progress><span>${escapeHtml(progressLine(s))}</span></div>`,
    "text/plain": progressLine(s),
  };
}

/** Options of {@link progressBar}. */
export interface ProgressBarOptions {
  label?: string;
  total?: number;
  unit?: string;
  /** Minimum time between two updates in milliseconds (default 150). */
  throttleMs?: number;
  /** Clock (ms) for tests; default `Date.now`. */
  now?: () => number;
}

/** A live progress bar. */
export interface ProgressBar {
  /** Sets the steps done (and the total / a message when they change). */
  update(done: number, total?: number, message?: string): void;
  /** Adds `n` steps (default 1). */
  tick(n?: number): void;
  /** Marks the bar finished and renders it. */
  done(message?: string): Promise<void>;
  readonly state: ProgressState;
  readonly displayId: string;
  /** Messages sent so far (first display + updates). */
  readonly messages: number;
}

/**
 * Starts a progress bar updated in place (throttled). In a plain script it prints a line at
 * most every 2 s and when done.
 * @example
 * ```ts
 * import { progressBar } from "./progress.ts";
 * const bar = progressBar({ label: "frames", total: 120, unit: "frame" });
 * bar.update(60);
 * await bar.done();
 * ```
 */
export function progressBar(o: ProgressBarOptions = {}): ProgressBar {
  const now = o.now ?? Date.now;
  const t0 = now();
  let doneSteps = 0;
  let total = o.total;
  let message: string | undefined;
  let finished = false;
  const state = (): ProgressState => ({
    label: o.label ?? "progress",
    done: doneSteps,
    total,
    elapsedMs: now() - t0,
    message,
    finished,
    unit: o.unit,
  });
  const plain = !hasRichDisplay();
  let lastPrint = 0;
  const live = new LiveDisplay(() => progressBundle(state()), { throttleMs: o.throttleMs ?? 150 });
  const changed = () => {
    if (!plain) return live.schedule();
    if (now() - lastPrint >= 2000) {
      lastPrint = now();
      process.stdout.write(progressLine(state()) + "\n");
    }
  };
  if (!plain) live.schedule(); // show the empty bar at once
  return {
    update(d, t, m) {
      doneSteps = d;
      if (t !== undefined) total = t;
      if (m !== undefined) message = m;
      changed();
    },
    tick(n = 1) {
      doneSteps += n;
      changed();
    },
    async done(m) {
      finished = true;
      if (total !== undefined && doneSteps < total) doneSteps = total;
      if (m !== undefined) message = m;
      if (plain) {
        process.stdout.write(progressLine(state()) + "\n");
        return;
      }
      await live.flush();
    },
    get state() {
      return state();
    },
    displayId: live.displayId,
    get messages() {
      return live.sent;
    },
  };
}

/** A progress event as `reason()` / `generate()` / `rollout()` report it. */
export interface StageProgress {
  stage: string;
  done?: number;
  total?: number;
  message?: string;
}

/** A callback for `onProgress` with `finish()` to close every bar. */
export interface ProgressReporter {
  (event: StageProgress): void;
  /** Marks every bar done and waits for the displays. */
  finish(): Promise<void>;
  /** The bars by stage. */
  readonly bars: ReadonlyMap<string, ProgressBar>;
}

/**
 * An `onProgress` callback that shows one bar per stage (load, denoise, decode, …); a bar is
 * finished when the next stage starts or at `finish()`.
 * @example
 * ```ts
 * import { progressReporter } from "./progress.ts";
 * const onProgress = progressReporter();
 * // await generate(req, { onProgress });
 * onProgress({ stage: "denoise", done: 1, total: 35 });
 * await onProgress.finish();
 * ```
 */
export function progressReporter(o: Omit<ProgressBarOptions, "label" | "total"> = {}): ProgressReporter {
  const bars = new Map<string, ProgressBar>();
  const pending: Promise<void>[] = [];
  let current: string | undefined;
  const report = ((e: StageProgress) => {
    if (current !== undefined && current !== e.stage) {
      const prev = bars.get(current);
      if (prev && !prev.state.finished) pending.push(prev.done());
    }
    current = e.stage;
    let bar = bars.get(e.stage);
    if (!bar) {
      bar = progressBar({ ...o, label: e.stage, total: e.total });
      bars.set(e.stage, bar);
    }
    bar.update(e.done ?? bar.state.done, e.total, e.message);
  }) as ProgressReporter;
  report.finish = async () => {
    for (const bar of bars.values()) if (!bar.state.finished) pending.push(bar.done());
    await Promise.all(pending);
  };
  Object.defineProperty(report, "bars", { get: () => bars });
  return report;
}
