// Test helpers: read the vision fixture (safetensors made by fixtures/make_vision_tiny.py).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURE_DIR = fileURLToPath(new URL("./fixtures/", import.meta.url));

export interface StTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Minimal safetensors reader (trusted fixture). */
export function readSafetensors(path: string): Map<string, StTensor> {
  const buf = new Uint8Array(readFileSync(path));
  const n = Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, StTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    out.set(name, {
      dtype: t.dtype,
      shape: t.shape,
      bytes: buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]),
    });
  }
  return out;
}

/** An F32 tensor's values (a copy); `key` names it in the error when it is missing or not F32. */
export function f32(t: StTensor | undefined, key = "tensor"): Float32Array {
  if (!t || t.dtype !== "F32") throw new Error(`${key}: expected an F32 tensor, got ${t?.dtype}`);
  const copy = t.bytes.slice();
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}

/** An I32 tensor's values; `key` names it in the error when it is missing or not I32. */
export function i32(t: StTensor | undefined, key = "tensor"): number[] {
  if (!t || t.dtype !== "I32") throw new Error(`${key}: expected an I32 tensor, got ${t?.dtype}`);
  const copy = t.bytes.slice();
  return Array.from(new Int32Array(copy.buffer, 0, copy.length / 4));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export interface VisionFixtureMeta {
  transformers: string;
  vision_config: {
    depth: number;
    hidden_size: number;
    intermediate_size: number;
    num_heads: number;
    out_hidden_size: number;
    num_position_embeddings: number;
    deepstack_visual_indexes: number[];
    patch_size: number;
    spatial_merge_size: number;
    temporal_patch_size: number;
  };
  image_grid_thw?: number[][];
  "pixel_values.image.grid_thw": number[][];
  video_grid_thw: number[][];
  vision_grid_thw: number[][];
  token_ids: { vision_start: number; vision_end: number; image: number; video: number };
  rope_cases: Record<
    string,
    {
      input_ids: number[];
      image_grid_thw: number[][] | null;
      video_grid_thw: number[][] | null;
      position_ids: number[][];
      rope_delta: number;
    }
  >;
}

export function visionMeta(): VisionFixtureMeta {
  return JSON.parse(readFileSync(FIXTURE_DIR + "vision-tiny.json", "utf8")) as VisionFixtureMeta;
}
