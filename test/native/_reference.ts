// Reads the transformers references for the qwen3vl-tiny checkpoint (test/fixtures/README.md).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** test/fixtures/, with the trailing slash. */
export const FIXTURES = ROOT + "test/fixtures/";
export const CKPT = FIXTURES + "qwen3vl-tiny";

export interface TextPrompt {
  input_ids: number[];
  greedy_ids: number[];
}
export interface MediaPrompt {
  input_ids: number[];
  position_ids: number[][];
  greedy_ids: number[];
}
export interface Reference {
  text_prompts: TextPrompt[];
  image: MediaPrompt;
  video: MediaPrompt;
}

export function reference(): Reference {
  return JSON.parse(readFileSync(ROOT + "test/fixtures/qwen3vl-tiny-reference.json", "utf8")) as Reference;
}

/** f32 tensors of a safetensors file, parsed independently of the native loader. */
export function referenceTensors(
  path = ROOT + "test/fixtures/qwen3vl-tiny-reference.safetensors",
): Map<string, Float32Array> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString("utf8")) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__" || t.dtype !== "F32") continue;
    const [s, e] = t.data_offsets;
    const copy = b.subarray(8 + n + s, 8 + n + e);
    out.set(name, new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength)));
  }
  return out;
}

export function tensor(m: Map<string, Float32Array>, name: string): Float32Array {
  const t = m.get(name);
  if (!t) throw new Error(`reference tensor ${name} missing`);
  return t;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}
