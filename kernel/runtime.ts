/**
 * Which notebook kernel runs this code, and how to send a MIME bundle to it.
 *
 * - Deno's Jupyter kernel (`deno jupyter`): `Deno.jupyter.display(bundle, { raw: true, ... })`.
 * - tslab on Node: its internal `lastWriteDisplayData` (full bundles, `display_data` and
 *   `update_display_data`), found in the module cache without loading tslab; if only the
 *   public `tslab.display` is reachable, the richest single MIME type is sent.
 * - Anything else (plain `node`, `deno run`, tests): the `text/plain` summary on stdout.
 *
 * @example
 * ```ts
 * import { detectRuntime, display } from "./runtime.ts";
 * console.log(detectRuntime()); // "plain" outside a notebook
 * await display({ "text/html": "<b>hi</b>", "text/plain": "hi" }); // prints "hi" outside a notebook
 * ```
 * @module
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import process from "node:process";
import { type MimeBundle, plainText } from "./mime.ts";

/** Where display output goes. */
export type KernelRuntime = "deno-jupyter" | "tslab" | "plain";

/** Options of {@link display}. */
export interface DisplayOptions {
  /** Names the display so that later calls with `update: true` replace it in place. */
  displayId?: string;
  /** Replace the output of an earlier display with the same `displayId` (`update_display_data`). */
  update?: boolean;
}

interface DenoJupyter {
  display(obj: unknown, options?: { raw?: boolean; update?: boolean; display_id?: string }): Promise<void>;
  broadcast?(msgType: string, content: Record<string, unknown>): Promise<void>;
}

type WriteDisplayData = (
  content: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id?: string } },
  update: boolean,
) => void;

interface TslabPublic {
  display: { raw(contentType: string, b: string | Uint8Array): unknown };
}

/** A sink for display messages; tests and custom front ends can install one. */
export type DisplaySink = (bundle: MimeBundle, options: DisplayOptions) => void | Promise<void>;

let sink: DisplaySink | undefined;

/**
 * Routes every display of this module to `fn` instead of the kernel (pass `undefined` to
 * restore). Used by tests to capture bundles; returns the previous sink.
 * @example
 * ```ts
 * import { setDisplaySink } from "./runtime.ts";
 * const seen: unknown[] = [];
 * setDisplaySink((b, o) => { seen.push([b, o]); });
 * ```
 */
export function setDisplaySink(fn: DisplaySink | undefined): DisplaySink | undefined {
  const prev = sink;
  sink = fn;
  return prev;
}

function denoJupyter(): DenoJupyter | undefined {
  const deno = (globalThis as { Deno?: { jupyter?: DenoJupyter } }).Deno;
  if (!deno) return undefined;
  try {
    // Outside `deno jupyter` this getter throws ("only available in `deno jupyter`").
    const j = deno.jupyter;
    return j && typeof j.display === "function" ? j : undefined;
  } catch {
    return undefined;
  }
}

function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

function moduleCache(): Record<string, { exports?: unknown } | undefined> {
  try {
    return createRequire(join(process.cwd(), "__cosmos__.js")).cache;
  } catch {
    return {};
  }
}

function tslabWriter(): WriteDisplayData | undefined {
  if (isDeno()) return undefined;
  for (const [key, mod] of Object.entries(moduleCache())) {
    if (!/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(key)) continue;
    const w = (mod?.exports as { lastWriteDisplayData?: unknown } | undefined)?.lastWriteDisplayData;
    if (typeof w === "function") return w as WriteDisplayData;
  }
  return undefined;
}

function tslabPublic(): TslabPublic | undefined {
  if (isDeno()) return undefined;
  for (const [key, mod] of Object.entries(moduleCache())) {
    if (!/[\\/]tslab[\\/]dist[\\/]public\.js$/.test(key)) continue;
    const p = mod?.exports as TslabPublic | undefined;
    if (p?.display && typeof p.display.raw === "function") return p;
  }
  return undefined;
}

/**
 * The kernel running this code: `"deno-jupyter"`, `"tslab"` or `"plain"`. Never throws.
 * @example
 * ```ts
 * import { detectRuntime } from "./runtime.ts";
 * if (detectRuntime() === "plain") console.log("not in a notebook");
 * ```
 */
export function detectRuntime(): KernelRuntime {
  if (denoJupyter()) return "deno-jupyter";
  if (tslabWriter() || tslabPublic()) return "tslab";
  return "plain";
}

/**
 * True when displays reach a notebook (or a sink installed with {@link setDisplaySink});
 * false in plain scripts, where live outputs print text instead.
 * @example
 * ```ts
 * import { hasRichDisplay } from "./runtime.ts";
 * if (!hasRichDisplay()) console.log("printing text only");
 * ```
 */
export function hasRichDisplay(): boolean {
  return sink !== undefined || detectRuntime() !== "plain";
}

/** MIME types tslab's public API can send alone, richest first. */
const SINGLE_MIME_ORDER = ["text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/plain"];

/** Pause (ms) after each display under Deno's kernel (see {@link display}); 5 ms was enough in a probe. */
const DENO_DISPLAY_YIELD_MS = 10;

/**
 * Bundles above this size (bytes) are followed by a pause under Deno's kernel. Below the 128 kB that
 * Deno's IOPub socket may keep buffered before it drops later messages (see {@link display}): a
 * 140 kB inline clip under the old 256 kB bound was followed by no pause at all.
 */
const LARGE_MESSAGE_BYTES = 64_000;

function bundleSize(bundle: MimeBundle): number {
  let n = 0;
  for (const v of Object.values(bundle)) n += typeof v === "string" ? v.length : JSON.stringify(v).length;
  return n;
}

async function drainDeno(deno: DenoJupyter, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    try {
      await deno.broadcast?.("update_display_data", {
        data: { "text/plain": "" },
        metadata: {},
        transient: { display_id: "cosmos-kernel-flush" },
      });
    } catch {
      // a nudge that fails changes nothing
    }
  }
}

/**
 * Sends a MIME bundle to the notebook (or prints its `text/plain` outside one).
 * With `displayId` the output can later be replaced with `update: true`.
 * @example
 * ```ts
 * import { display } from "./runtime.ts";
 * await display({ "text/plain": "step 1" }, { displayId: "p" });
 * await display({ "text/plain": "step 2" }, { displayId: "p", update: true });
 * ```
 */
export async function display(bundle: MimeBundle, options: DisplayOptions = {}): Promise<void> {
  if (sink) return await sink(bundle, options);
  const deno = denoJupyter();
  if (deno) {
    await deno.display(bundle, {
      raw: true,
      ...(options.displayId ? { display_id: options.displayId } : {}),
      ...(options.update ? { update: true } : {}),
    });
    // Deno before 2.8.2 (zeromq-rs PUB) wrote a message with a non-blocking try_send: whatever the
    // OS socket did not take at once stayed buffered until a later message was sent, and every
    // message sent while more than 128 kB was buffered was silently dropped (ZeroMQ's PUB rule).
    // After a multi-MB output, the next displays, console.log lines or the cell's result could
    // vanish. No flush can be awaited from JS, so we keep sending tiny updates of an unused display
    // id (front ends ignore them; each one wrote more of the buffered message) for 500 ms + 600 ms
    // per MB. (250 ms + 150 ms per MB lost one of four plotly outputs on a busy 2-core machine: the
    // reader, not the socket, sets the pace.) Deno 2.8.2 rewrote its kernel in JS (one write of
    // each whole message, no drop rule); there the wait still gives a large message time to reach
    // the reader before the cell reports done (below).
    const size = bundleSize(bundle);
    if (size > LARGE_MESSAGE_BYTES) await drainDeno(deno, 500 + Math.ceil(size * 6e-4));
    // The kernel reports the cell done (status idle) on its own path, which can overtake displays
    // still queued for IOPub (Deno 2.9: cli/js/jupyter_kernel.js publishes displays from a drainer
    // task, status idle straight from handleExecute): headless runners (nbclient, nbconvert) then
    // drop a cell's last displays (1-4 of 5 lost in a probe). Yielding to the event loop for a
    // moment after each display lets the queue drain first; live displays are throttled, so this
    // costs little. A cell's own value (execute_result) takes the drainer too, with no pause after
    // it: to be sure a headless run keeps it, `await` a show function instead.
    else await new Promise((r) => setTimeout(r, DENO_DISPLAY_YIELD_MS));
    return;
  }
  const write = tslabWriter();
  if (write) {
    write(
      { data: bundle, metadata: {}, transient: options.displayId ? { display_id: options.displayId } : {} },
      Boolean(options.update && options.displayId),
    );
    return;
  }
  const pub = tslabPublic();
  if (pub) {
    // Public tslab API: one MIME type per message and no update; re-display instead.
    const mime = SINGLE_MIME_ORDER.find((m) => typeof bundle[m] === "string") ?? "text/plain";
    pub.display.raw(mime, typeof bundle[mime] === "string" ? (bundle[mime] as string) : plainText(bundle));
    return;
  }
  if (options.update) return; // plain scripts: updates are printed by the handles themselves
  process.stdout.write(plainText(bundle) + "\n");
}
