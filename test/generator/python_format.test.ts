// Python's formatting rules the Generator prompt depends on; expected values are what CPython 3 prints.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { pyFixed, PyFloat, pyFloatRepr, pyJsonDumps, pyStrip } from "../../src/generator/python_format.ts";

describe("pyFixed (format(x, '.Nf'))", () => {
  test("exact binary ties round to even; values above a decimal tie round up", () => {
    // 0.25 and 0.75 are exact ties at one decimal; 0.05 is 0.05000000000000000277 (above the tie).
    assert.equal(pyFixed(0.25, 1), "0.2");
    assert.equal(pyFixed(0.75, 1), "0.8");
    assert.equal(pyFixed(0.05, 1), "0.1");
    assert.equal(pyFixed(0.04, 1), "0.0");
    assert.equal(pyFixed(2.5, 0), "2");
    assert.equal(pyFixed(3.5, 0), "4");
  });
  test("durations of the templates", () => {
    assert.equal(pyFixed(189 / 24, 1), "7.9"); // 7.875
    assert.equal(pyFixed(121 / 30, 1), "4.0"); // 4.0333
    assert.equal(pyFixed(9.96, 1), "10.0");
    assert.equal(pyFixed(24, 0), "24");
    assert.equal(pyFixed(16, 1), "16.0");
  });
});

describe("pyStrip and pyFloatRepr", () => {
  test("str.strip() whitespace set", () => {
    assert.equal(pyStrip(" \t\x1c a b \u3000\n"), "a b");
    assert.equal(pyStrip("\ufeffx"), "\ufeffx"); // U+FEFF is not whitespace for Python
  });
  test("repr(float)", () => {
    assert.deepEqual(
      [24, 0.1, 1e16, 1e-5, 0.0001, 1.5e300, -0.5, 123456789.125].map(pyFloatRepr),
      ["24.0", "0.1", "1e+16", "1e-05", "0.0001", "1.5e+300", "-0.5", "123456789.125"],
    );
  });
});

describe("pyJsonDumps (json.dumps defaults)", () => {
  test("separators, float vs int, ensure_ascii escapes", () => {
    assert.equal(
      pyJsonDumps({ a: new PyFloat(24), b: 'é😀\u007f\n"\\', c: [1, 2.5, null, true], d: { H: 480 } }),
      '{"a": 24.0, "b": "\\u00e9\\ud83d\\ude00\\u007f\\n\\"\\\\", "c": [1, 2.5, null, true], "d": {"H": 480}}',
    );
  });
});
