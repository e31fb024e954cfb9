/**
 * Decodes a video to RGB frames (HWC, 3 channels) through an ffmpeg pipe
 * (`-f rawvideo -pix_fmt rgb24`), streaming: at most a couple of frames are buffered,
 * the pipe is paused while the caller is busy. Sample at a fps, a frame count (evenly
 * spaced, as `np.linspace(0, n - 1, k).round()`, see {@link linspaceIndices}), explicit frame indices, or all frames.
 *
 * @example
 * ```ts
 * import { decodeVideo } from "./video_decode.ts";
 * for await (const f of decodeVideo("assets/videos/pick_place.mp4", { fps: 2 })) {
 *   console.log(f.index, f.timestampS, f.width, f.height, f.data.length);
 * }
 * ```
 * @module
 */
import { AbortError, MediaError, throwIfAborted } from "../errors.ts";
import { checkDimensions } from "./limits.ts";
import { linspaceIndices } from "./qwen_vision.ts";
import { probeFile, type VideoInfo } from "./probe.ts";
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  FFMPEG_QUIET_WITH_PROGRESS,
  type MediaChild,
  passthroughArgs,
  type ProcessOptions,
  startMedia,
} from "./process.ts";
import { type LocalFile, materialize, type MediaSource } from "./source.ts";

/** An RGB picture: `data` holds `height * width * 3` bytes, row-major, RGB interleaved (HWC). */
export interface RgbFrame {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

/** A decoded video frame. */
export interface VideoFrame extends RgbFrame {
  /** Position in the decoded sequence (0, 1, 2, …). */
  index: number;
  /** Index of the source frame, when frames were picked by count or index. */
  sourceIndex?: number;
  /** Seconds from the start of the video. */
  timestampS: number;
}

/** How decoded frames are resized to `width` x `height`. */
export type VideoFit = "fill" | "cover" | "contain";

/** Options of {@link decodeVideo}. */
export interface DecodeOptions extends ProcessOptions {
  /** Sample at this frame rate (ffmpeg `fps` filter). */
  fps?: number;
  /** Pick this many frames, evenly spaced over the whole video. */
  numFrames?: number;
  /** Pick these source frame indices (0-based, in any order, repeats allowed). */
  frameIndices?: number[];
  /** Output width (with `height`); default: the source size. */
  width?: number;
  /** Output height (with `width`). */
  height?: number;
  /** "fill" stretches (default), "cover" scales and centre-crops, "contain" letterboxes. */
  fit?: VideoFit;
  /** Fail when ffmpeg reports corrupt data or fewer frames than asked (default true). */
  strict?: boolean;
}

function scaleChain(w: number, h: number, fit: VideoFit): string {
  switch (fit) {
    case "cover":
      return `scale=${w}:${h}:force_original_aspect_ratio=increase:flags=bicubic,crop=${w}:${h}`;
    case "contain":
      return `scale=${w}:${h}:force_original_aspect_ratio=decrease:flags=bicubic,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2`;
    default:
      return `scale=${w}:${h}:flags=bicubic`;
  }
}

interface Plan {
  filters: string[];
  /** Requested source indices in output order (index mode only). */
  indices?: number[];
  timestamp(i: number): number;
  expected?: number;
}

function plan(info: VideoInfo, opts: DecodeOptions): Plan {
  const modes = [opts.fps !== undefined, opts.numFrames !== undefined, opts.frameIndices !== undefined]
    .filter(Boolean).length;
  if (modes > 1) {
    throw new MediaError("Pass only one of fps, numFrames and frameIndices.", {
      hint: "fps samples by time, numFrames by count, frameIndices picks exact frames.",
    });
  }
  const srcFps = info.fps > 0 ? info.fps : 24;
  if (opts.fps !== undefined) {
    if (!(opts.fps > 0) || !Number.isFinite(opts.fps)) {
      throw new MediaError(`fps must be a positive number, got ${opts.fps}.`);
    }
    const fps = opts.fps;
    return { filters: [`fps=fps=${fps}`], timestamp: (i) => i / fps };
  }
  let indices: number[] | undefined;
  if (opts.numFrames !== undefined) {
    if (!Number.isInteger(opts.numFrames) || opts.numFrames < 1) {
      throw new MediaError(`numFrames must be a positive integer, got ${opts.numFrames}.`);
    }
    indices = linspaceIndices(info.frameCount, opts.numFrames);
  } else if (opts.frameIndices !== undefined) {
    indices = opts.frameIndices;
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= info.frameCount) {
        throw new MediaError(`Frame index ${i} is outside 0..${info.frameCount - 1}.`, {
          hint: `The video has ${info.frameCount} frames.`,
        });
      }
    }
    if (indices.length === 0) throw new MediaError("frameIndices is empty.");
  }
  if (indices) {
    const unique = [...new Set(indices)].sort((a, b) => a - b);
    // select by decoded frame number n; passthrough keeps exactly the selected frames
    const expr = unique.map((i) => `eq(n\\,${i})`).join("+");
    const idx = indices;
    return { filters: [`select='${expr}'`], indices: idx, timestamp: (i) => idx[i] / srcFps, expected: unique.length };
  }
  return { filters: [], timestamp: (i) => i / srcFps, expected: info.frameCount };
}

/** Pulls fixed-size frames from a child's stdout, pausing the pipe when two are waiting. */
class FrameReader {
  private ready: Uint8Array[] = [];
  private cur: Uint8Array;
  private off = 0;
  private ended = false;
  private waiter?: () => void;
  /** Bytes of an incomplete last frame. */
  leftover = 0;

  constructor(private child: MediaChild, private frameBytes: number) {
    this.cur = new Uint8Array(frameBytes);
    const out = child.proc.stdout;
    out.on("data", (chunk: Uint8Array) => this.push(chunk));
    out.on("end", () => this.finish());
    out.on("close", () => this.finish());
    out.on("error", () => this.finish());
  }

  private push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.byteLength) {
      const n = Math.min(this.frameBytes - this.off, chunk.byteLength - pos);
      this.cur.set(chunk.subarray(pos, pos + n), this.off);
      this.off += n;
      pos += n;
      if (this.off === this.frameBytes) {
        this.ready.push(this.cur);
        this.cur = new Uint8Array(this.frameBytes);
        this.off = 0;
      }
    }
    if (this.ready.length >= 2) this.child.proc.stdout.pause();
    this.wake();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.leftover = this.off;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next frame, or null at the end of the stream. */
  async next(): Promise<Uint8Array | null> {
    for (;;) {
      const f = this.ready.shift();
      if (f) {
        if (this.ready.length < 2) this.child.proc.stdout.resume();
        return f;
      }
      if (this.ended) return null;
      this.child.proc.stdout.resume();
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}

const FATAL_DECODE =
  /partial file|Invalid data found|Error while decoding|error reading header|moov atom not found|Invalid NAL unit|corrupt/i;

/**
 * Decodes `input` (path, `file://` URL, bytes, data URI) to RGB frames, as an async iterator.
 * Breaking out of the loop (or aborting) kills ffmpeg at once.
 * @throws {MediaError} for unreadable, truncated, frame-less or huge videos (quoting ffmpeg).
 * @throws {AbortError} when `signal` aborts.
 */
export async function* decodeVideo(
  input: MediaSource,
  opts: DecodeOptions = {},
): AsyncGenerator<VideoFrame, void, undefined> {
  throwIfAborted(opts.signal);
  const file = await materialize(input, ".mp4");
  try {
    yield* decodeLocalVideo(file, opts);
  } finally {
    await file.cleanup();
  }
}

/**
 * {@link decodeVideo} on a file already made local by `materialize` (the caller removes it), so a
 * caller that probes first (`prepareQwenVideo`) writes bytes to one temp file, not two; errors name
 * `file.label` ("media bytes", the path).
 */
export async function* decodeLocalVideo(
  file: Pick<LocalFile, "path" | "label">,
  opts: DecodeOptions = {},
): AsyncGenerator<VideoFrame, void, undefined> {
  throwIfAborted(opts.signal);
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const info = await probeFile(file.path, file.label, { signal: opts.signal, idleTimeoutMs: idleMs });
  const p = plan(info, opts);
  let width = info.width;
  let height = info.height;
  const filters = [...p.filters];
  if (opts.width !== undefined || opts.height !== undefined) {
    if (opts.width === undefined || opts.height === undefined) {
      throw new MediaError("Pass both width and height to resize decoded frames.");
    }
    checkDimensions(opts.width, opts.height, "The requested frame size");
    width = opts.width;
    height = opts.height;
    filters.push(scaleChain(width, height, opts.fit ?? "fill"));
  }
  const args = [
    ...FFMPEG_QUIET_WITH_PROGRESS,
    "-i",
    file.path,
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    ...(filters.length ? ["-vf", filters.join(",")] : []),
    ...(await passthroughArgs(opts.signal)),
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "pipe:1",
  ];
  const child = startMedia(args, `Decoding ${file.label}`, { signal: opts.signal });
  child.proc.stdin.end();
  const reader = new FrameReader(child, width * height * 3);
  try {
    // index mode: ffmpeg emits the unique selected frames in ascending order
    const unique = p.indices ? [...new Set(p.indices)].sort((a, b) => a - b) : undefined;
    const byIndex = new Map<number, Uint8Array>();
    let decoded = 0;
    let emitted = 0;
    for (;;) {
      const data = await child.watch(reader.next(), idleMs, opts.signal);
      if (opts.signal?.aborted) throw new AbortError(`Decoding ${file.label} was aborted.`);
      if (!data) break;
      if (!unique || !p.indices) {
        yield { width, height, channels: 3, data, index: emitted, timestampS: p.timestamp(emitted) };
        emitted++;
        decoded++;
        throwIfAborted(opts.signal);
        continue;
      }
      byIndex.set(unique[decoded], data);
      decoded++;
      // emit every requested frame whose source is now decoded, in request order
      while (emitted < p.indices.length && byIndex.has(p.indices[emitted])) {
        const src = p.indices[emitted];
        const buf = byIndex.get(src)!;
        const later = p.indices.indexOf(src, emitted + 1) >= 0;
        yield {
          width,
          height,
          channels: 3,
          data: later ? buf.slice() : buf,
          index: emitted,
          sourceIndex: src,
          timestampS: p.timestamp(emitted),
        };
        if (!later) byIndex.delete(src);
        emitted++;
        throwIfAborted(opts.signal);
      }
    }
    const { code } = await child.watch(child.exited, idleMs, opts.signal);
    if (code !== 0) throw child.failure(code);
    const strict = opts.strict !== false;
    if (strict && FATAL_DECODE.test(child.stderr)) throw child.failure(code, "corrupt data");
    if (emitted === 0) {
      throw new MediaError(
        `${file.label} decoded to zero frames${child.stderr ? `; ffmpeg says: ${child.stderr.split("\n")[0]}` : ""}.`,
        {
          hint: "The video holds no decodable picture; re-export it.",
        },
      );
    }
    if (strict && p.indices && emitted < p.indices.length) {
      throw new MediaError(
        `${file.label} has fewer frames than its header says: got ${emitted} of ${p.indices.length} requested.`,
        {
          hint: "The file is damaged or has a wrong frame count; re-export it, or pass strict: false.",
        },
      );
    }
  } finally {
    await child.dispose();
  }
}

/**
 * Collects {@link decodeVideo} into an array (all frames in memory: mind the size).
 * @example
 * ```ts
 * import { decodeVideoFrames } from "./video_decode.ts";
 * const frames = await decodeVideoFrames("assets/videos/pick_place.mp4", { numFrames: 8, width: 320, height: 192 });
 * ```
 */
export async function decodeVideoFrames(input: MediaSource, opts: DecodeOptions = {}): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of decodeVideo(input, opts)) out.push(f);
  return out;
}
