/**
 * Probes a video: duration, fps, size, frame count, audio track. Uses ffprobe, or
 * parses `ffmpeg -i` output when there is no ffprobe (ffmpeg-static ships none).
 *
 * @example
 * ```ts
 * import { probeVideo } from "./probe.ts";
 * const info = await probeVideo("assets/videos/pick_place.mp4");
 * console.log(info.width, info.height, info.fps, info.frameCount, info.audio?.sampleRate);
 * ```
 * @module
 */
import { stat } from "node:fs/promises";
import process from "node:process";
import { resolve } from "node:path";
import { MediaError } from "../errors.ts";
import { resolveFfprobe } from "./ffmpeg_path.ts";
import { checkDimensions } from "./limits.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, type ProcessOptions, relevantStderr, runFfmpeg } from "./process.ts";
import { materialize, type MediaSource } from "./source.ts";

/** The audio track of a video (or an audio file). */
export interface AudioTrackInfo {
  codec: string;
  sampleRate: number;
  channels: number;
  /** Seconds; NaN when unknown. */
  durationS: number;
}

/** What {@link probeVideo} finds. */
export interface VideoInfo {
  /** Container format, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  format: string;
  /** Video codec, e.g. "h264". */
  codec: string;
  /** Width of the decoded frames (the display orientation: rotation already applied). */
  width: number;
  /** Height of the decoded frames. */
  height: number;
  /** Display rotation in degrees from the container (ffmpeg applies it when decoding). */
  rotation: number;
  /** Frames per second (average frame rate). */
  fps: number;
  /** Seconds. */
  durationS: number;
  /** Number of frames of the video stream. */
  frameCount: number;
  hasAudio: boolean;
  audio?: AudioTrackInfo;
  /** "ffprobe" or "ffmpeg" (the fallback). */
  probedWith: "ffprobe" | "ffmpeg";
}

/** Options of {@link probeVideo}. */
export interface ProbeOptions extends ProcessOptions {
  /** Use ffprobe when available (default true); false forces the `ffmpeg -i` fallback. */
  useFfprobe?: boolean;
  /** Reject more than 16384 px a side / 100 MP (default true). */
  checkSize?: boolean;
  /** Reject files whose video stream holds no frame (default true). */
  requireFrames?: boolean;
}

/** Parses "30000/1001" or "24" to a number (NaN when unknown). */
export function parseRate(rate: string | undefined): number {
  if (!rate) return NaN;
  const [n, d] = rate.split("/").map(Number);
  if (d === undefined) return n;
  return d === 0 || n === 0 ? NaN : n / d;
}

function num(v: unknown): number {
  const n = typeof v === "string" ? Number(v) : typeof v === "number" ? v : NaN;
  return Number.isFinite(n) ? n : NaN;
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  duration?: string;
  sample_rate?: string;
  channels?: number;
  tags?: { rotate?: string };
  side_data_list?: { rotation?: number }[];
}

/** Swaps width and height for a quarter-turn rotation (what ffmpeg's autorotate outputs). */
function oriented(width: number, height: number, rotation: number): [number, number] {
  return Math.abs(Math.round(rotation)) % 180 === 90 ? [height, width] : [width, height];
}

/** Builds a {@link VideoInfo} from `ffprobe -print_format json -show_streams -show_format -count_packets`. */
export function fromFfprobeJson(json: {
  streams?: FfprobeStream[];
  format?: { format_name?: string; duration?: string };
}, label: string): VideoInfo {
  const streams = json.streams ?? [];
  const v = streams.find((s) => s.codec_type === "video");
  const a = streams.find((s) => s.codec_type === "audio");
  if (!v) throw new MediaError(`${label} has no video stream.`, { hint: "Pass an MP4 file that contains video." });
  let fps = parseRate(v.avg_frame_rate);
  if (!Number.isFinite(fps)) fps = parseRate(v.r_frame_rate);
  const formatDuration = num(json.format?.duration);
  const durationS = Number.isFinite(num(v.duration)) ? num(v.duration) : formatDuration;
  const nbFrames = num(v.nb_frames);
  const nbPackets = num(v.nb_read_packets);
  let frameCount = Number.isFinite(nbFrames) && nbFrames > 0
    ? nbFrames
    : Number.isFinite(nbPackets)
    ? nbPackets
    : Math.round(durationS * fps);
  if (!Number.isFinite(frameCount)) frameCount = 0;
  const rot = v.side_data_list?.find((d) => typeof d.rotation === "number")?.rotation ?? num(v.tags?.rotate);
  const rotation = Number.isFinite(rot) ? rot : 0;
  const [width, height] = oriented(v.width ?? 0, v.height ?? 0, rotation);
  return {
    format: json.format?.format_name ?? "",
    codec: v.codec_name ?? "",
    width,
    height,
    rotation,
    fps,
    durationS,
    frameCount,
    hasAudio: !!a,
    audio: a
      ? {
        codec: a.codec_name ?? "",
        sampleRate: num(a.sample_rate),
        channels: a.channels ?? 0,
        durationS: Number.isFinite(num(a.duration)) ? num(a.duration) : formatDuration,
      }
      : undefined,
    probedWith: "ffprobe",
  };
}

function hms(s: string): number {
  const [h, m, sec] = s.split(":").map(Number);
  return h * 3600 + m * 60 + sec;
}

/**
 * Builds a {@link VideoInfo} from the stderr of
 * `ffmpeg -i FILE -map 0:v:0 -c copy -f null - -progress pipe:2` (the ffprobe-less fallback).
 * The frame count is the last `frame=N` of the progress report, or duration x fps.
 */
export function parseFfmpegInfo(stderr: string, label: string): VideoInfo {
  const inputAt = stderr.indexOf("Input #0");
  const head = inputAt >= 0 ? stderr.slice(inputAt) : stderr;
  const fmt = /Input #0, ([^ ]+), from/.exec(head)?.[1]?.replace(/,$/, "") ?? "";
  const dur = /Duration: (\d+:\d+:\d+(?:\.\d+)?)/.exec(head);
  const vLine = /Stream #0:\d+[^:]*: Video: ([^\n]+)/.exec(head);
  if (!vLine) {
    const why = relevantStderr(stderr);
    throw new MediaError(`${label} has no readable video stream${why ? `; ffmpeg says: ${why}` : ""}.`, {
      hint: "Pass an MP4 file that contains video.",
    });
  }
  const codec = /^(\w+)/.exec(vLine[1])?.[1] ?? "";
  const size = /(?:^|[ ,])(\d{1,6})x(\d{1,6})(?:[ ,\]]|$)/.exec(vLine[1]);
  const fpsM = /([\d.]+)(k?) fps/.exec(vLine[1]) ?? /([\d.]+)(k?) tbr/.exec(vLine[1]);
  const fps = fpsM ? Number(fpsM[1]) * (fpsM[2] ? 1000 : 1) : NaN;
  const aLine = /Stream #0:\d+[^:]*: Audio: ([^\n]+)/.exec(head);
  const durationS = dur ? hms(dur[1]) : NaN;
  const frames = [...stderr.matchAll(/^frame=\s*(\d+)/gm)].map((m) => Number(m[1]));
  const frameCount = frames.length ? frames[frames.length - 1] : Math.round(durationS * fps) || 0;
  let audio: AudioTrackInfo | undefined;
  if (aLine) {
    const hz = /(\d+) Hz/.exec(aLine[1]);
    const layout = /Hz, ([^,]+)/.exec(aLine[1])?.[1]?.trim() ?? "";
    const ch = layout === "mono"
      ? 1
      : layout === "stereo"
      ? 2
      : /(\d+) channels/.exec(layout)
      ? Number(/(\d+) channels/.exec(layout)![1])
      : /^(\d)\.(\d)/.exec(layout)
      ? Number(/^(\d)\.(\d)/.exec(layout)![1]) + Number(/^(\d)\.(\d)/.exec(layout)![2])
      : 0;
    audio = {
      codec: /^(\w+)/.exec(aLine[1])?.[1] ?? "",
      sampleRate: hz ? Number(hz[1]) : NaN,
      channels: ch,
      durationS,
    };
  }
  const rotM = /displaymatrix: rotation of (-?[\d.]+) degrees/.exec(head) ?? /^\s*rotate\s*:\s*(-?\d+)/m.exec(head);
  const rotation = rotM ? Number(rotM[1]) : 0;
  const [width, height] = oriented(size ? Number(size[1]) : 0, size ? Number(size[2]) : 0, rotation);
  return {
    format: fmt,
    codec,
    width,
    height,
    rotation,
    fps,
    durationS,
    frameCount,
    hasAudio: !!audio,
    audio,
    probedWith: "ffmpeg",
  };
}

/**
 * Probes a video file, bytes or data URI.
 * @throws {MediaError} for unreadable, truncated or frame-less files, and huge dimensions.
 */
export async function probeVideo(input: MediaSource, opts: ProbeOptions = {}): Promise<VideoInfo> {
  const file = await materialize(input, ".mp4");
  try {
    return await probeFile(file.path, file.label, opts);
  } finally {
    await file.cleanup();
  }
}

/** How many probe results {@link probeFile} keeps (least recently used first out). */
export const PROBE_CACHE_ENTRIES = 32;
const probeCache = new Map<string, VideoInfo>();

/** Empties the probe cache of {@link probeFile} (tests, benchmarks). */
export function clearProbeCache(): void {
  probeCache.clear();
}

/**
 * The cache key of a regular file: device, inode, size and both nanosecond times, so a file
 * rewritten or replaced in place (even with the same size) misses. Undefined (no caching) for
 * anything else (a FIFO, a file that cannot be stat'ed), or when `COSMOS_PROBE_CACHE=0`.
 */
async function probeCacheKey(path: string, prober: string): Promise<string | undefined> {
  if (process.env.COSMOS_PROBE_CACHE === "0") return undefined;
  try {
    const st = await stat(path, { bigint: true });
    if (!st.isFile()) return undefined;
    return [prober, st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs, resolve(path)].join("\u0000");
  } catch {
    return undefined;
  }
}

/** A copy, so a caller that edits its result cannot change the cached one. */
function copyInfo(info: VideoInfo): VideoInfo {
  return { ...info, audio: info.audio ? { ...info.audio } : undefined };
}

/**
 * {@link probeVideo} on a local path. A successful probe of a regular file is kept in a small
 * in-process cache ({@link PROBE_CACHE_ENTRIES} entries, keyed by path, inode, size and times), so
 * probing and then decoding the same file (`prepareQwenVideo`, a notebook's `showVideo` then
 * `reason`) runs ffprobe once; failures are never cached.
 */
export async function probeFile(path: string, label: string, opts: ProbeOptions = {}): Promise<VideoInfo> {
  const ffprobe = opts.useFfprobe === false ? undefined : resolveFfprobe();
  const key = await probeCacheKey(path, ffprobe ?? "ffmpeg");
  let info = key === undefined ? undefined : probeCache.get(key);
  if (info && key !== undefined) {
    // most recently used last: Map keeps insertion order
    probeCache.delete(key);
    probeCache.set(key, info);
  } else {
    info = await probeUncached(path, label, ffprobe, opts);
    if (key !== undefined) {
      probeCache.set(key, info);
      if (probeCache.size > PROBE_CACHE_ENTRIES) probeCache.delete(probeCache.keys().next().value!);
    }
  }
  if (opts.checkSize !== false) checkDimensions(info.width, info.height, label);
  if (opts.requireFrames !== false && !(info.frameCount > 0)) {
    throw new MediaError(`${label} has a video stream with no frames.`, {
      hint: "The file holds no picture; check the export settings of whatever produced it.",
    });
  }
  return copyInfo(info);
}

/** Runs ffprobe (or the `ffmpeg -i` fallback) on `path`; the size and frame checks are the caller's. */
async function probeUncached(
  path: string,
  label: string,
  ffprobe: string | undefined,
  opts: ProbeOptions,
): Promise<VideoInfo> {
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let info: VideoInfo;
  if (ffprobe) {
    const r = await runFfmpeg(
      ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", "-count_packets", "--", path],
      {
        what: `Probing ${label}`,
        bin: ffprobe,
        signal: opts.signal,
        idleTimeoutMs,
        allowFailure: true,
        maxStdout: 16 << 20,
      },
    );
    if (r.code !== 0) {
      throw new MediaError(`Cannot read ${label}: ffprobe says: ${relevantStderr(r.stderr) || `exit ${r.code}`}.`, {
        hint: "The file is corrupt, truncated or not a video; re-export it as MP4 (H.264).",
      });
    }
    let json: Parameters<typeof fromFfprobeJson>[0];
    try {
      json = JSON.parse(new TextDecoder().decode(r.stdout));
    } catch (e) {
      throw new MediaError(`ffprobe printed unreadable JSON for ${label}.`, { cause: e });
    }
    info = fromFfprobeJson(json, label);
    const v = json.streams?.find((s) => s.codec_type === "video");
    const declared = num(v?.nb_frames);
    const readable = num(v?.nb_read_packets);
    if (/partial file/i.test(r.stderr) || (declared > 0 && readable < declared)) {
      throw new MediaError(
        `${label} is truncated: ${readable} of ${declared} video packets are readable; ffprobe says: ${
          relevantStderr(r.stderr) || "partial file"
        }.`,
        { hint: "The download or copy was cut short; fetch the file again." },
      );
    }
  } else {
    const r = await runFfmpeg(
      [
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-progress",
        "pipe:2",
        "-i",
        path,
        "-map",
        "0:v:0?",
        "-c",
        "copy",
        "-f",
        "null",
        "-",
      ],
      { what: `Probing ${label}`, signal: opts.signal, idleTimeoutMs, allowFailure: true, maxStdout: 1 << 20 },
    );
    if (!/Input #0/.test(r.rawStderr)) {
      throw new MediaError(`Cannot read ${label}: ffmpeg says: ${relevantStderr(r.stderr) || `exit ${r.code}`}.`, {
        hint: "The file is corrupt, truncated or not a video; re-export it as MP4 (H.264).",
      });
    }
    info = parseFfmpegInfo(r.rawStderr, label);
    if (/partial file/i.test(r.stderr)) {
      throw new MediaError(`${label} is truncated; ffmpeg says: ${relevantStderr(r.stderr)}.`, {
        hint: "The download or copy was cut short; fetch the file again.",
      });
    }
  }
  return info;
}
