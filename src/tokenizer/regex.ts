/**
 * Translates the Oniguruma / Rust regular expressions of `tokenizer.json` pre-tokenizers into
 * JavaScript `RegExp`s with the `u` flag.
 *
 * What differs and how it is bridged:
 * - `(?i:…)` scoped case-insensitivity (not in Node 20's RegExp): each letter inside becomes a
 *   class of both cases (`'s` → `'[sS]`).
 * - `\s` / `\S`: Oniguruma's Unicode White_Space (includes U+0085, not U+FEFF); JS's `\s` differs
 *   on both, so it is spelled out.
 * - `\d`, `\w` are Unicode in Oniguruma: `\p{Nd}` and letters/marks/digits/connectors.
 * - `\x{HHHH}` becomes `\u{HHHH}`; identity escapes that the `u` flag rejects (`\'`, `\ `) become
 *   `\u{…}` escapes.
 *
 * @example
 * ```ts
 * import { translateRegex } from "./regex.ts";
 * const re = translateRegex("(?i:'s|'t)|\\p{L}+|\\s+");
 * "IT'S ok".match(re); // ["IT", "'S", " ", "ok"]
 * ```
 * @module
 */
import { UnsupportedError } from "../errors.ts";

/** Oniguruma's `\s` (Unicode White_Space) as class contents. */
const WS = "\\t\\n\\v\\f\\r \\u{85}\\u{a0}\\u{1680}\\u{2000}-\\u{200a}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}";
/** Oniguruma's Unicode `\w` as class contents. */
const WORD = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
const SYNTAX = new Set("^$\\.*+?()[]{}|/".split(""));

function caseClass(c: string): string {
  const lo = c.toLowerCase();
  const up = c.toUpperCase();
  return lo !== up && [...lo].length === 1 && [...up].length === 1 ? `${lo}${up}` : "";
}

function literal(c: string): string {
  return SYNTAX.has(c) || c === "-" ? `\\${c}` : `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

/**
 * The JS source (for the `u` flag) of an Oniguruma pattern.
 *
 * @example
 * ```ts
 * import { translateRegexSource } from "./regex.ts";
 * translateRegexSource("(?i:'s)"); // "(?:'[sS])"
 * ```
 */
export function translateRegexSource(pattern: string): string {
  const chars = [...pattern];
  let out = "";
  let inClass = false;
  // Stack of groups: true where the group is case-insensitive.
  const groups: boolean[] = [];
  const ci = () => groups.length > 0 && groups[groups.length - 1];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === "\\") {
      const e = chars[++i];
      if (e === undefined) throw new UnsupportedError(`Regex ends with a lone backslash: ${pattern}`);
      if (e === "s") out += inClass ? WS : `[${WS}]`;
      else if (e === "S") {
        if (inClass) throw new UnsupportedError(`\\S inside a character class is not supported: ${pattern}`);
        out += `[^${WS}]`;
      } else if (e === "d") out += "\\p{Nd}";
      else if (e === "D") out += "\\P{Nd}";
      else if (e === "w") out += inClass ? WORD : `[${WORD}]`;
      else if (e === "W") {
        if (inClass) throw new UnsupportedError(`\\W inside a character class is not supported: ${pattern}`);
        out += `[^${WORD}]`;
      } else if (e === "p" || e === "P") {
        let j = i + 1;
        let body = "";
        if (chars[j] === "{") {
          while (j < chars.length && chars[j] !== "}") body += chars[j++];
          body += "}";
        } else {
          body = `{${chars[j]}}`;
        }
        out += `\\${e}${body}`;
        i = j;
      } else if (e === "x" && chars[i + 1] === "{") {
        let j = i + 2;
        let hex = "";
        while (j < chars.length && chars[j] !== "}") hex += chars[j++];
        out += `\\u{${hex}}`;
        i = j;
      } else if (/[A-Za-z0-9]/.test(e)) {
        out += `\\${e}`;
        if (e === "x" || e === "u") { /* \xHH, \uHHHH pass through */ }
      } else {
        out += literal(e);
      }
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      else if (c === "[") {
        out += "\\[";
        continue;
      } else if (ci()) {
        out += c + caseClass(c).replace(c, "");
        continue;
      }
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      if (chars[i + 1] === "^") {
        out += "^";
        i++;
      }
      if (chars[i + 1] === "]") {
        out += "\\]";
        i++;
      }
      continue;
    }
    if (c === "(") {
      if (chars[i + 1] === "?") {
        // (?i:  (?-i:  (?:  (?=  (?!  (?<=  (?<!  (?<name>
        const rest = chars.slice(i + 2, i + 6).join("");
        const m = /^(-?i):/.exec(rest) ?? /^(i-?):/.exec(rest);
        if (m) {
          groups.push(!m[1].startsWith("-"));
          out += "(?:";
          i += 1 + m[0].length;
          continue;
        }
        if (/^[a-zA-Z-]/.test(rest) && !rest.startsWith("<")) {
          throw new UnsupportedError(`Inline regex flags (?${rest}…) are not supported: ${pattern}`);
        }
      }
      groups.push(ci());
      out += c;
      continue;
    }
    if (c === ")") {
      groups.pop();
      out += c;
      continue;
    }
    if (ci() && /\p{L}/u.test(c)) {
      const cls = caseClass(c);
      out += cls ? `[${cls}]` : c;
      continue;
    }
    if ((c === "+" || c === "*" || c === "?" || c === "}") && chars[i + 1] === "+") {
      throw new UnsupportedError(`Possessive quantifiers are not supported: ${pattern}`);
    }
    out += c;
  }
  return out;
}

/**
 * A global Unicode `RegExp` for an Oniguruma pattern of a `tokenizer.json`.
 *
 * @example
 * ```ts
 * import { translateRegex } from "./regex.ts";
 * translateRegex("\\s+(?!\\S)").flags; // "gu"
 * ```
 */
export function translateRegex(pattern: string): RegExp {
  return new RegExp(translateRegexSource(pattern), "gu");
}

/**
 * A `RegExp` matching a literal string (the `{ "String": … }` form of a Split pattern).
 *
 * @example
 * ```ts
 * import { literalRegex } from "./regex.ts";
 * "a.b".split(literalRegex(".")); // ["a", "b"]
 * ```
 */
export function literalRegex(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"), "gu");
}
