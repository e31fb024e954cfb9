/**
 * Encodes RGB frames to MP4 (H.264, yuv420p, BT.709, `+faststart`) through an ffmpeg
 * pipe, optionally muxing a 48 kHz stereo AAC track. The file is written to a temp
 * file in the output folder and renamed at the end: a failed or aborted encode never
 * leaves a half-written output.
 *
 * @example
 * ```ts
 * import { encodeVideo } from "./video_encode.ts";
 * const frames = Array.from({ length: 24 }, (_, i) => new Uint8Array(64 * 48 * 3).fill(i * 10));
 * await encodeVideo(frames, { output: "/tmp/ramp.mp4", fps: 24, width: 64, height: 48 });
 * ```
 * @module
 */
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbortError, MediaError, throwIfAborted } from "../errors.ts";
import { withAtomicOutput } from "./atomic.ts";
import { encodeWav } from "./audio.ts";
import { checkDimensions } from "./limits.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, FFMPEG_QUIET_WITH_PROGRESS, type ProcessOptions, startMedia } from "./process.ts";
import { localPath } from "./source.ts";
import type { RgbFrame } from "./video_decode.ts";

/** A frame to encode: raw RGB bytes (`height * width * 3`) or an {@link RgbFrame}. */
export type FrameInput = Uint8Array | RgbFrame;

/** A soundtrack to mux: WAV bytes, an audio file, or interleaved float PCM. */
export type AudioInput =
  | { wav: Uint8Array }
  | { path: string }
  | { pcm: Float32Array; sampleRate: number; channels: number };

/** Options of {@link encodeVideo}. */
export interface EncodeOptions extends ProcessOptions {
  /** Destination .mp4 path (its folder is created). */
  output: string;
  /** Frames per second of the output. */
  fps: number;
  /** Width of the given frames; odd sizes are padded to even (black column/row). */
  width: number;
  /** Height of the given frames. */
  height: number;
  /** x264 constant rate factor (default 18; lower is better quality). */
  crf?: number;
  /** x264 preset (default "medium"). */
  preset?: "ultrafast" | "superfast" | "veryfast" | "faster" | "fast" | "medium" | "slow" | "slower" | "veryslow";
  /** Soundtrack, encoded as 48 kHz stereo AAC, padded or cut to the video length. */
  audio?: AudioInput;
  /** AAC bit rate (default "192k"). */
  audioBitrate?: string;
}

/** What {@link encodeVideo} wrote. */
export interface EncodeResult {
  /** Absolute path of the MP4. */
  path: string;
  /** Encoded (even) width. */
  width: number;
  /** Encoded (even) height. */
  height: number;
  frames: number;
  fps: number;
  durationS: number;
  hasAudio: boolean;
}

async function audioFile(audio: AudioInput): Promise<{ path: string; cleanup: () => Promise<void> }> {
  if ("path" in audio) {
    const p = localPath(audio.path);
    if (p === undefined) throw new MediaError("audio.path must be a file path.");
    return { path: p, cleanup: async () => {} };
  }
  const bytes = "wav" in audio ? audio.wav : encodeWav(audio.pcm, audio.sampleRate, audio.channels);
  const path = join(tmpdir(), `cosmos-audio-${randomBytes(8).toString("hex")}.wav`);
  await writeFile(path, bytes);
  return { path, cleanup: () => rm(path, { force: true }) };
}

function toAsyncIterator<T>(src: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> {
  const a = src as AsyncIterable<T>;
  if (typeof a[Symbol.asyncIterator] === "function") return a[Symbol.asyncIterator]();
  const it = (src as Iterable<T>)[Symbol.iterator]();
  return {
    next: () => Promise.resolve(it.next()),
    return: (v?: unknown) => Promise.resolve(it.return?.(v as T) ?? { done: true as const, value: v as T }),
  };
}

/** Awaits `p`, or rejects with AbortError as soon as `signal` aborts. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new AbortError(`${what} was aborted.`, { cause: signal.reason }));
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new AbortError(`${what} was aborted.`, { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

function frameBytes(f: FrameInput, width: number, height: number, i: number): Uint8Array {
  const data = f instanceof Uint8Array ? f : f.data;
  if (!(f instanceof Uint8Array) && (f.width !== width || f.height !== height)) {
    throw new MediaError(`Frame ${i} is ${f.width}x${f.height}, expected ${width}x${height}.`, {
      hint: "Resize every frame to the size given to encodeVideo.",
    });
  }
  if (!(data instanceof Uint8Array) || data.byteLength !== width * height * 3) {
    throw new MediaError(
      `Frame ${i} holds ${data?.byteLength ?? 0} bytes, expected ${width * height * 3} (${width}x${height} RGB).`,
      { hint: "Frames are RGB, 3 bytes a pixel, row after row (HWC)." },
    );
  }
  return data;
}

/**
 * Encodes frames from an array, iterable or async iterable (e.g. {@link decodeVideo}).
 * @throws {MediaError} on a wrong frame size, zero frames, or an ffmpeg failure (quoting it).
 * @throws {AbortError} when `signal` aborts (the child is killed, no output is left).
 */
export async function encodeVideo(
  frames: Iterable<FrameInput> | AsyncIterable<FrameInput>,
  opts: EncodeOptions,
): Promise<EncodeResult> {
  throwIfAborted(opts.signal);
  const { width, height, fps } = opts;
  checkDimensions(width, height, "The video frame size");
  if (!(fps > 0) || !Number.isFinite(fps)) throw new MediaError(`fps must be a positive number, got ${fps}.`);
  const evenW = width + (width % 2);
  const evenH = height + (height % 2);
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const audio = opts.audio ? await audioFile(opts.audio) : undefined;
  let count = 0;
  try {
    const path = await withAtomicOutput(opts.output, async (tmp) => {
      const vf = [
        ...(evenW !== width || evenH !== height ? [`pad=${evenW}:${evenH}:0:0:black`] : []),
        "scale=out_color_matrix=bt709:out_range=tv",
        "format=yuv420p",
      ].join(",");
      const args = [
        ...FFMPEG_QUIET_WITH_PROGRESS,
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        `${width}x${height}`,
        "-r",
        String(fps),
        "-i",
        "pipe:0",
        ...(audio ? ["-i", audio.path] : []),
        "-map",
        "0:v:0",
        ...(audio ? ["-map", "1:a:0"] : []),
        "-vf",
        vf,
        "-c:v",
        "libx264",
        "-preset",
        opts.preset ?? "medium",
        "-crf",
        String(opts.crf ?? 18),
        "-pix_fmt",
        "yuv420p",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        ...(audio
          ? ["-c:a", "aac", "-b:a", opts.audioBitrate ?? "192k", "-ar", "48000", "-ac", "2", "-af", "apad", "-shortest"]
          : []),
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        tmp,
      ];
      const child = startMedia(args, `Encoding ${opts.output}`, { signal: opts.signal });
      const stdin = child.proc.stdin;
      let stdinBroken = false;
      stdin.on("error", () => (stdinBroken = true));
      const it = toAsyncIterator(frames);
      let finished = false;
      try {
        for (;;) {
          // the source may be slow (a model producing frames): wait for it, but not past an abort
          const next = await raceAbort(it.next(), opts.signal, `Encoding ${opts.output}`);
          if (next.done) {
            finished = true;
            break;
          }
          const data = frameBytes(next.value, width, height, count);
          if (!child.isRunning || stdinBroken) break;
          child.touch();
          if (!stdin.write(data)) {
            // resolves on drain or when ffmpeg exits (then the exit status explains why)
            await child.watch(
              new Promise<void>((res) => {
                stdin.once("drain", () => res());
                child.exited.then(() => res());
              }),
              idleMs,
              opts.signal,
            );
          }
          count++;
        }
        if (count === 0 && finished) {
          throw new MediaError("No frames to encode.", { hint: "Pass at least one frame." });
        }
        stdin.end();
        const { code } = await child.watch(child.exited, idleMs, opts.signal);
        if (opts.signal?.aborted) throw new AbortError(`Encoding ${opts.output} was aborted.`);
        if (code !== 0) throw child.failure(code);
        if (!finished) throw child.failure(code, "ffmpeg stopped reading frames");
      } catch (e) {
        if (!finished) void Promise.resolve(it.return?.()).catch(() => {}); // stop the source (e.g. kill its decoder)
        throw e;
      } finally {
        await child.dispose();
      }
    });
    return {
      path,
      width: evenW,
      height: evenH,
      frames: count,
      fps,
      durationS: count / fps,
      hasAudio: !!audio,
    };
  } finally {
    await audio?.cleanup();
  }
}
