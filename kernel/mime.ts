/**
 * MIME bundles: the `data` dictionary of a Jupyter `display_data` message, plus small
 * helpers (HTML escaping, base64, a displayable wrapper) shared by every renderer.
 *
 * @example
 * ```ts
 * import { displayable, escapeHtml } from "./mime.ts";
 * const shown = displayable({ "text/html": `<b>${escapeHtml("a < b")}</b>`, "text/plain": "a < b" });
 * console.log(String(shown)); // "a < b"
 * ```
 * @module
 */
import { Buffer } from "node:buffer";

/** A Jupyter MIME bundle: MIME type → string (text, base64) or JSON object. */
export type MimeBundle = Record<string, string | object>;

/** The symbol Deno's Jupyter kernel looks up to render a cell's value. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/** A value that renders itself in Deno's Jupyter kernel when it is a cell's last expression. */
export interface Displayable {
  /** The MIME bundle this value renders as. */
  readonly bundle: MimeBundle;
  [JUPYTER_DISPLAY](): MimeBundle;
  toString(): string;
}

/**
 * Wraps a bundle so that Deno's kernel renders it as a cell's result; `String()` gives its
 * `text/plain` summary (what plain scripts print).
 * @example
 * ```ts
 * import { displayable } from "./mime.ts";
 * displayable({ "text/plain": "hello" }); // renders "hello" in a Deno notebook
 * ```
 */
export function displayable(bundle: MimeBundle): Displayable {
  return {
    bundle,
    [JUPYTER_DISPLAY]: () => bundle,
    toString: () => plainText(bundle),
  };
}

/**
 * The `text/plain` entry of a bundle, or a one-line list of its MIME types.
 * @example
 * ```ts
 * import { plainText } from "./mime.ts";
 * plainText({ "text/html": "<b>x</b>" }); // "[text/html]"
 * ```
 */
export function plainText(bundle: MimeBundle): string {
  const t = bundle["text/plain"];
  return typeof t === "string" ? t : `[${Object.keys(bundle).join(", ")}]`;
}

/**
 * Escapes `& < > " '` for HTML text and attribute values.
 * @example
 * ```ts
 * import { escapeHtml } from "./mime.ts";
 * escapeHtml('<a href="x">'); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/**
 * Base64 of bytes (standard alphabet, padded).
 * @example
 * ```ts
 * import { toBase64 } from "./mime.ts";
 * toBase64(new Uint8Array([1, 2, 3])); // "AQID"
 * ```
 */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * A human-readable byte size, e.g. `"1.4 MB"` (powers of 1000, like file managers).
 * @example
 * ```ts
 * import { formatBytes } from "./mime.ts";
 * formatBytes(1_400_000); // "1.4 MB"
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * A number formatted for SVG attributes: at most 2 decimals, no trailing zeros.
 * @example
 * ```ts
 * import { num } from "./mime.ts";
 * num(12.3456); // "12.35"
 * ```
 */
export function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

let counter = 0;
/**
 * A fresh id, unique in this process, for display ids and DOM ids.
 * @example
 * ```ts
 * import { uniqueId } from "./mime.ts";
 * uniqueId("plot"); // e.g. "plot-lx2k9a-1"
 * ```
 */
export function uniqueId(prefix = "cosmos"): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${counter}`;
}
