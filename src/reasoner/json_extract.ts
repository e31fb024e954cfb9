/**
 * Finds JSON in model output: inside ```json code fences (closed or cut off) or bare in
 * the text, several top-level values in a row, and truncated values repaired by
 * dropping the incomplete tail and closing the open brackets. `NaN`, `Infinity` and `None`
 * become `null` (the parsers report such items instead of losing the whole value).
 *
 * @example
 * ```ts
 * import { extractJsonValues } from "./json_extract.ts";
 * extractJsonValues('```json\n[{"bbox_2d": [1, 2, 30, 40], "label": "cup"}, {"bbox_2d": [5,');
 * // [[{ bbox_2d: [1, 2, 30, 40], label: "cup" }]]
 * ```
 * @module
 */

/** JSON values found in `text`, in order; empty when there is none. */
export function extractJsonValues(text: string): unknown[] {
  const fenced = fencedBlocks(text);
  for (const block of fenced) {
    const values = scanValues(block);
    if (values.length) return values;
  }
  return scanValues(text);
}

/** Bodies of ``` fences (a last fence left open by truncation included). */
export function fencedBlocks(text: string): string[] {
  const blocks: string[] = [];
  const re = /```[a-zA-Z0-9_-]*[ \t]*\r?\n?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index + m[0].length;
    const end = text.indexOf("```", start);
    blocks.push(end < 0 ? text.slice(start) : text.slice(start, end));
    if (end < 0) break;
    re.lastIndex = end + 3;
  }
  return blocks;
}

/** Top-level `{…}` / `[…]` values of a text; the last one repaired if cut off. */
function scanValues(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    const start = nextOpen(text, i);
    if (start < 0) break;
    const end = matchingEnd(text, start);
    if (end < 0) {
      const repaired = repairTruncated(text.slice(start));
      if (repaired !== undefined) out.push(repaired);
      break;
    }
    const parsed = tryParse(text.slice(start, end));
    if (parsed !== undefined) {
      out.push(parsed);
      i = end;
    } else {
      i = start + 1; // not JSON (e.g. "[1] the cup"); look further
    }
  }
  return out;
}

function nextOpen(text: string, from: number): number {
  const a = text.indexOf("[", from);
  const b = text.indexOf("{", from);
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}

/** Index after the bracket closing the one at `start`, or -1 when it never closes. */
function matchingEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  let escape = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escape) escape = false;
      else if (c === "\\") escape = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") stack.push(c === "[" ? "]" : "}");
    else if (c === "]" || c === "}") {
      if (stack.pop() !== c) return i + 1; // mismatched: let the parser reject it
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}

const HAS_NON_FINITE = /NaN|nan|Infinity|inf|None/;
const NON_FINITE = /^-?(?:NaN|nan|Infinity|inf|None)\b/;

function tryParse(s: string): unknown {
  for (const candidate of [s, s.replace(/,\s*([\]}])/g, "$1")]) { // as is, then without trailing commas
    for (const text of HAS_NON_FINITE.test(candidate) ? [candidate, nonFiniteToNull(candidate)] : [candidate]) {
      try {
        return JSON.parse(text);
      } catch {
        // try the next repair
      }
    }
  }
  return undefined;
}

/**
 * Replaces the non-JSON number words models write (`NaN`, `Infinity`, `-inf`, Python's `None`)
 * with `null`, outside strings, so one bad value costs one item and not the whole list; the
 * parsers then report that item as invalid.
 * @example
 * ```ts
 * import { nonFiniteToNull } from "./json_extract.ts";
 * nonFiniteToNull('[[1, 2], [NaN, 3], "NaN"]'); // '[[1, 2], [null, 3], "NaN"]'
 * ```
 */
export function nonFiniteToNull(text: string): string {
  let out = "";
  let inString = false;
  let escape = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escape) escape = false;
      else if (c === "\\") escape = true;
      else if (c === '"') inString = false;
      out += c;
      continue;
    }
    if (c === '"') inString = true;
    else if ((c === "-" || c === "N" || c === "n" || c === "I" || c === "i") && !/[\w.]/.test(text[i - 1] ?? "")) {
      const m = NON_FINITE.exec(text.slice(i, i + 10));
      if (m) {
        out += "null";
        i += m[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/**
 * Repairs a value cut off mid-way: keeps everything up to the last complete element and
 * closes the brackets open at that point. An object left open inside a list (a box or an
 * event whose fields were cut) is dropped whole rather than kept with missing fields; an
 * open top-level object (a wrapper such as `{"events": [...]`) is kept.
 */
export function repairTruncated(s: string): unknown {
  const stack: { closer: string; pos: number }[] = [];
  let inString = false;
  let escape = false;
  let safe: { pos: number; stack: { closer: string; pos: number }[] } | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (escape) escape = false;
      else if (c === "\\") escape = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      stack.push({ closer: c === "[" ? "]" : "}", pos: i });
      if (c === "[") safe = { pos: i + 1, stack: [...stack] }; // an empty array is complete
    } else if (c === "]" || c === "}") {
      stack.pop();
      safe = { pos: i + 1, stack: [...stack] };
    } else if (c === ",") safe = { pos: i, stack: [...stack] };
  }
  if (!safe) return undefined;
  let { pos, stack: open } = safe;
  const k = open.findIndex((e, idx) => idx >= 1 && e.closer === "}");
  if (k >= 1) {
    pos = open[k].pos;
    open = open.slice(0, k);
  }
  const candidate = s.slice(0, pos).replace(/,\s*$/, "") + open.map((e) => e.closer).reverse().join("");
  return tryParse(candidate);
}
