/**
 * Audio through ffmpeg: extract a video's audio track to WAV or AAC (M4A), or decode
 * it to float PCM (48 kHz stereo by default).
 *
 * @example
 * ```ts
 * import { decodeAudio, extractAudio } from "./audio_io.ts";
 * await extractAudio("assets/videos/pick_place.mp4", { output: "/tmp/clip.wav" });
 * const pcm = await decodeAudio("assets/videos/pick_place.mp4"); // { sampleRate: 48000, channels: 2, samples }
 * ```
 * @module
 */
import { MediaError, throwIfAborted } from "../errors.ts";
import { withAtomicOutput } from "./atomic.ts";
import { COSMOS_CHANNELS, COSMOS_SAMPLE_RATE, type PcmAudio } from "./audio.ts";
import { probeFile } from "./probe.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, FFMPEG_QUIET_WITH_PROGRESS, type ProcessOptions, runFfmpeg } from "./process.ts";
import { materialize, type MediaSource } from "./source.ts";

/** Options of {@link extractAudio}. */
export interface ExtractAudioOptions extends ProcessOptions {
  /** Destination path; `.wav` gives 16-bit PCM, `.m4a`/`.aac` gives AAC in MP4. */
  output: string;
  /** Overrides the format implied by the extension. */
  format?: "wav" | "m4a";
  /** Default 48000. */
  sampleRate?: number;
  /** Default 2. */
  channels?: number;
}

async function requireAudio(path: string, label: string, opts: ProcessOptions) {
  const info = await probeFile(path, label, { ...opts, checkSize: false, requireFrames: false }).catch((e) => {
    // audio-only files have no video stream: that is fine here
    if (e instanceof MediaError && /no (readable )?video stream/.test(e.message)) return undefined;
    throw e;
  });
  if (info && !info.hasAudio) {
    throw new MediaError(`${label} has no audio track.`, {
      hint: "Generate the video with sound, or mux one in first.",
    });
  }
}

/**
 * Writes the audio track of `input` to a WAV or M4A file (atomically).
 * @returns the absolute output path.
 */
export async function extractAudio(input: MediaSource, opts: ExtractAudioOptions): Promise<string> {
  throwIfAborted(opts.signal);
  const format = opts.format ?? (/\.wav$/i.test(opts.output) ? "wav" : "m4a");
  const file = await materialize(input, ".mp4");
  try {
    await requireAudio(file.path, file.label, opts);
    return await withAtomicOutput(opts.output, async (tmp) => {
      const codec = format === "wav"
        ? ["-c:a", "pcm_s16le", "-f", "wav"]
        : ["-c:a", "aac", "-b:a", "192k", "-f", "mp4", "-movflags", "+faststart"];
      await runFfmpeg(
        [
          ...FFMPEG_QUIET_WITH_PROGRESS,
          "-y",
          "-i",
          file.path,
          "-map",
          "0:a:0",
          "-vn",
          "-ar",
          String(opts.sampleRate ?? COSMOS_SAMPLE_RATE),
          "-ac",
          String(opts.channels ?? COSMOS_CHANNELS),
          ...codec,
          tmp,
        ],
        {
          what: `Extracting audio from ${file.label}`,
          signal: opts.signal,
          idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        },
      );
    });
  } finally {
    await file.cleanup();
  }
}

/** Decodes the audio track of a video or audio file to interleaved float PCM. */
export async function decodeAudio(
  input: MediaSource,
  opts: ProcessOptions & { sampleRate?: number; channels?: number } = {},
): Promise<PcmAudio> {
  throwIfAborted(opts.signal);
  const sampleRate = opts.sampleRate ?? COSMOS_SAMPLE_RATE;
  const channels = opts.channels ?? COSMOS_CHANNELS;
  const file = await materialize(input, ".mp4");
  try {
    await requireAudio(file.path, file.label, opts);
    const r = await runFfmpeg(
      [
        ...FFMPEG_QUIET_WITH_PROGRESS,
        "-i",
        file.path,
        "-map",
        "0:a:0",
        "-vn",
        "-ar",
        String(sampleRate),
        "-ac",
        String(channels),
        "-f",
        "f32le",
        "pipe:1",
      ],
      {
        what: `Decoding audio of ${file.label}`,
        signal: opts.signal,
        idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      },
    );
    const bytes = r.stdout;
    const samples = new Float32Array(Math.floor(bytes.byteLength / 4));
    new Uint8Array(samples.buffer).set(bytes.subarray(0, samples.length * 4));
    return { sampleRate, channels, samples };
  } finally {
    await file.cleanup();
  }
}
