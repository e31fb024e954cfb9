/**
 * The note a renderer puts under its output when some of the model's items could not be drawn
 * as given (an event that ends before it starts, a box outside the image, a NaN in an action
 * chunk): the valid items are drawn, and this says what was left out or drawn cut, and why. A
 * model's imperfect output never costs the whole display.
 *
 * @example
 * ```ts
 * import { notesHtml, notesText } from "./notes.ts";
 * const notes = { skipped: [{ item: "grasp 5s–3s", problem: "ends before it starts" }], flagged: [] };
 * notesHtml(notes, "event"); // '<div class="cosmos-problems" …>1 event not drawn: …</div>'
 * notesText(notes); // "  ⚠ not drawn: grasp 5s–3s: ends before it starts"
 * ```
 * @module
 */
import { escapeHtml } from "./mime.ts";

/** One item of the model's output and what is wrong with it (the parsers' `invalid` entries). */
export interface ItemProblem {
  /** The item as the model wrote it, or a short description of it. */
  item: string;
  problem: string;
}

/** What a renderer could not draw as given. */
export interface RenderNotes {
  /** Left out of the drawing. */
  skipped: ItemProblem[];
  /** Drawn, but cut or marked (dashed). */
  flagged: ItemProblem[];
}

/** True when there is anything to say. */
export function hasNotes(n: RenderNotes): boolean {
  return n.skipped.length > 0 || n.flagged.length > 0;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : /(?:x|s|ch|sh)$/.test(noun) ? "es" : "s"}`;

function list(items: readonly ItemProblem[]): string {
  return items.map((p) => `<li><code>${escapeHtml(p.item)}</code>: ${escapeHtml(p.problem)}</li>`).join("");
}

/**
 * The HTML note (`<div class="cosmos-problems">`), or `""` when there is nothing to say. `noun` names
 * one item ("event", "box", "value").
 */
export function notesHtml(n: RenderNotes, noun: string): string {
  if (!hasNotes(n)) return "";
  const parts: string[] = [];
  if (n.skipped.length) {
    parts.push(`<b>⚠ ${plural(n.skipped.length, noun)} not drawn:</b><ul style="margin:2px 0">${list(n.skipped)}</ul>`);
  }
  if (n.flagged.length) {
    parts.push(
      `<b>⚠ ${plural(n.flagged.length, noun)} drawn dashed:</b><ul style="margin:2px 0">${list(n.flagged)}</ul>`,
    );
  }
  return `<div class="cosmos-problems" role="note" style="font:12px sans-serif;color:#8a4b00;margin:4px 0">${
    parts.join("")
  }</div>`;
}

/** The same note as `text/plain` lines (each starting with two spaces), or `""`. */
export function notesText(n: RenderNotes): string {
  const lines = [
    ...n.skipped.map((p) => `  ⚠ not drawn: ${p.item}: ${p.problem}`),
    ...n.flagged.map((p) => `  ⚠ drawn dashed: ${p.item}: ${p.problem}`),
  ];
  return lines.join("\n");
}
