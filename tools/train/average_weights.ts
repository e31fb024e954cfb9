/**
 * Averages the weights of several checkpoints of one model (a "model soup"): every tensor of the output is the
 * element-wise mean of that tensor in each input, computed in f32 and stored in the input's dtype (bf16 rounded to
 * nearest even). The inputs must hold the same tensor names, dtypes and shapes (the same config trained from one
 * start); the output keeps the first input's header byte for byte, so only the data differs.
 *
 * Why: the mini Generator's text-to-video figure swings by ±10 of 60 held-out prompts from one training call to the
 * next while the loss keeps falling (tools/train/README.md, session 31); averaging calls that continued one checkpoint
 * is the cheap test of whether that swing is noise around a better mean.
 *
 * @example
 * ```sh
 * node --import tsx tools/train/average_weights.ts out.safetensors a.safetensors b.safetensors c.safetensors
 * ```
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";

interface Parsed {
  headerBytes: Buffer;
  dataStart: number;
  tensors: Map<string, { dtype: string; begin: number; end: number }>;
  bytes: Buffer;
}

function parse(path: string): Parsed {
  const bytes = readFileSync(path);
  if (bytes.length < 8) throw new Error(`${path}: not a safetensors file (${bytes.length} bytes)`);
  const n = Number(bytes.readBigUInt64LE(0));
  if (8 + n > bytes.length) throw new Error(`${path}: header length ${n} runs past the file's ${bytes.length} bytes`);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<string, unknown>;
  const tensors = new Map<string, { dtype: string; begin: number; end: number }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, data_offsets } = entry as { dtype: string; data_offsets: [number, number] };
    tensors.set(name, { dtype, begin: data_offsets[0], end: data_offsets[1] });
  }
  return { headerBytes: bytes.subarray(0, 8 + n), dataStart: 8 + n, tensors, bytes };
}

function toF32(src: Buffer, dtype: string, out: Float32Array): void {
  if (dtype === "F32") {
    for (let i = 0; i < out.length; i++) out[i] += src.readFloatLE(i * 4);
  } else if (dtype === "BF16") {
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    for (let i = 0; i < out.length; i++) {
      u[0] = src.readUInt16LE(i * 2) << 16;
      out[i] += f[0];
    }
  } else {
    throw new Error(`dtype ${dtype}: only F32 and BF16 tensors can be averaged`);
  }
}

function fromF32(sum: Float32Array, count: number, dtype: string, dst: Buffer): void {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < sum.length; i++) {
    f[0] = sum[i] / count;
    if (dtype === "F32") {
      dst.writeFloatLE(f[0], i * 4);
    } else {
      const bits = u[0];
      const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16; // round to nearest even (finite weights)
      dst.writeUInt16LE(rounded & 0xffff, i * 2);
    }
  }
}

function main(argv: string[]): void {
  const [out, ...inputs] = argv;
  if (!out || inputs.length < 2) {
    throw new Error("usage: average_weights.ts OUT.safetensors IN1.safetensors IN2.safetensors [...]");
  }
  const parsed = inputs.map(parse);
  const first = parsed[0];
  for (const [i, p] of parsed.entries()) {
    if (!p.headerBytes.equals(first.headerBytes)) {
      throw new Error(`${inputs[i]}: its header differs from ${inputs[0]}'s (another config or layout)`);
    }
  }
  const result = Buffer.from(first.bytes);
  for (const t of first.tensors.values()) {
    const width = t.dtype === "F32" ? 4 : 2;
    const sum = new Float32Array((t.end - t.begin) / width);
    for (const p of parsed) toF32(p.bytes.subarray(p.dataStart + t.begin, p.dataStart + t.end), t.dtype, sum);
    fromF32(sum, parsed.length, t.dtype, result.subarray(first.dataStart + t.begin, first.dataStart + t.end));
  }
  writeFileSync(out, result);
  console.log(`${out}: the mean of ${inputs.length} checkpoints, ${first.tensors.size} tensors`);
}

main(process.argv.slice(2));
