/**
 * The few Python formatting rules the Cosmos 3 prompt text depends on, so the token ids we
 * build equal the diffusers pipeline's (pipeline_cosmos3_omni.py formats the duration with
 * `{:.1f}`, rounds with `round()`, strips with `str.strip()` and serializes the action caption
 * with `json.dumps`): `format(x, ".Nf")` (half-to-even `round()` is src/media's `pyRound`), `str.strip()` and
 * `json.dumps` with its default `ensure_ascii=True` and `", "` / `": "` separators.
 *
 * @example
 * ```ts
 * import { pyFixed, pyJsonDumps, PyFloat } from "./python_format.ts";
 * pyFixed(0.25, 1); // "0.2" (JS toFixed gives "0.3")
 * pyJsonDumps({ fps: new PyFloat(24), caf: "café" }); // '{"fps": 24.0, "caf": "caf\\u00e9"}'
 * ```
 * @module
 */

/** Adds one unit in the last place to a string of decimal digits ("199" → "200", "99" → "100"). */
function incrementDigits(digits: string): string {
  const out = digits.split("");
  let i = out.length - 1;
  while (i >= 0) {
    if (out[i] === "9") {
      out[i] = "0";
      i--;
    } else {
      out[i] = String(Number(out[i]) + 1);
      return out.join("");
    }
  }
  return "1" + out.join("");
}

/**
 * Python's `format(x, f".{digits}f")`: the exact binary value rounded half to even (JS `toFixed`
 * rounds exact ties up, so 0.25 → "0.3" there and "0.2" here).
 */
export function pyFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const negative = x < 0 || Object.is(x, -0);
  // toFixed(100) is the exact decimal expansion of any double of magnitude ≥ 2^-47 and < 1e21.
  const exact = Math.abs(x).toFixed(100);
  const [intPart, frac] = exact.split(".");
  const kept = intPart + frac.slice(0, digits);
  const next = frac[digits];
  const rest = frac.slice(digits + 1);
  const lastEven = Number(kept[kept.length - 1]) % 2 === 0;
  const up = next > "5" || (next === "5" && (/[1-9]/.test(rest) || !lastEven));
  let rounded = up ? incrementDigits(kept) : kept;
  rounded = rounded.padStart(digits + 1, "0");
  const whole = rounded.slice(0, rounded.length - digits).replace(/^0+(?=\d)/, "");
  const body = digits > 0 ? `${whole}.${rounded.slice(rounded.length - digits)}` : whole;
  return negative ? `-${body}` : body;
}

/** Characters Python's `str.isspace()` accepts (so `str.strip()` removes them). */
const PY_SPACE = "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" +
  "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

/** Python's `s.strip()` (JS `trim()` also strips U+FEFF and keeps \x1c-\x1f, Python does the opposite). */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PY_SPACE.includes(s[start])) start++;
  while (end > start && PY_SPACE.includes(s[end - 1])) end--;
  return s.slice(start, end);
}

/** A Python `float` for {@link pyJsonDumps}: `24` is written `24.0`, as Python writes a float. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** What {@link pyJsonDumps} writes: JSON values, with JS numbers as Python ints and {@link PyFloat} as floats. */
export type PyJson = null | boolean | number | string | PyFloat | PyJson[] | { [key: string]: PyJson };

/** Python's `repr(float)`: shortest round-trip digits, `.0` on whole numbers, exponent outside 1e-4..1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  const sign = mantissa.startsWith("-") ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const fracPart = digits.slice(exp + 1);
    return `${sign}${intPart}.${fracPart || "0"}`;
  }
  const frac = digits.slice(1);
  const e = `${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  return `${sign}${digits[0]}${frac ? "." + frac : ""}e${e}`;
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** A JSON string as Python's `json.dumps` writes it with `ensure_ascii=True`: everything outside ' '..'~' escaped. */
function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    // UTF-16 code units: an astral character becomes its surrogate pair, as in Python.
    else out += "\\u" + code.toString(16).padStart(4, "0");
  }
  return out + '"';
}

/** Python's `json.dumps(value)` with the default arguments. */
export function pyJsonDumps(value: PyJson): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return pyFloatRepr(value);
    return Object.is(value, -0) ? "0" : BigInt(value).toString();
  }
  if (typeof value === "string") return pyJsonString(value);
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  if (Array.isArray(value)) return "[" + value.map(pyJsonDumps).join(", ") + "]";
  return "{" + Object.entries(value).map(([k, v]) => `${pyJsonString(k)}: ${pyJsonDumps(v)}`).join(", ") + "}";
}
