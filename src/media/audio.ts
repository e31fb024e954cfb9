/**
 * 48 kHz stereo PCM helpers: build a WAV from float samples, read one back, make test
 * tones. Cosmos 3 sound output is stereo AAC at 48 kHz muxed into MP4; these buffers are
 * what the mux step takes.
 *
 * @example
 * ```ts
 * import { encodeWav, parseWav, sineWave } from "./audio.ts";
 * const pcm = sineWave({ frequency: 440, seconds: 1 }); // 48 kHz, 2 ch, interleaved
 * const wav = encodeWav(pcm, 48000, 2);
 * parseWav(wav).sampleRate; // 48000
 * ```
 * @module
 */
import { MediaError } from "../errors.ts";

/** Cosmos 3 sound: 48 kHz. */
export const COSMOS_SAMPLE_RATE = 48_000;
/** Cosmos 3 sound: stereo. */
export const COSMOS_CHANNELS = 2;

/** Interleaved float PCM (-1..1). */
export interface PcmAudio {
  sampleRate: number;
  channels: number;
  /** Interleaved samples: frame 0 ch 0, frame 0 ch 1, frame 1 ch 0, … */
  samples: Float32Array;
}

/**
 * Encodes interleaved float samples as a WAV file: 16-bit PCM (default) or 32-bit float.
 * Samples are clipped to -1..1.
 */
export function encodeWav(
  samples: Float32Array,
  sampleRate = COSMOS_SAMPLE_RATE,
  channels = COSMOS_CHANNELS,
  format: "s16" | "f32" = "s16",
): Uint8Array {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new MediaError(`Invalid sample rate ${sampleRate}.`);
  if (!Number.isInteger(channels) || channels <= 0) throw new MediaError(`Invalid channel count ${channels}.`);
  if (samples.length % channels !== 0) {
    throw new MediaError(`${samples.length} samples do not split into ${channels} channels.`, {
      hint: "Samples are interleaved: their count must be a multiple of the channel count.",
    });
  }
  const bytesPer = format === "s16" ? 2 : 4;
  const dataBytes = samples.length * bytesPer;
  const buf = new ArrayBuffer(44 + dataBytes);
  const v = new DataView(buf);
  const ascii = (off: number, s: string) => {
    for (let i = 0; i < s.length; i++) v.setUint8(off + i, s.charCodeAt(i));
  };
  ascii(0, "RIFF");
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, format === "s16" ? 1 : 3, true); // 1 = PCM, 3 = IEEE float
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * channels * bytesPer, true);
  v.setUint16(32, channels * bytesPer, true);
  v.setUint16(34, bytesPer * 8, true);
  ascii(36, "data");
  v.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, Number.isFinite(samples[i]) ? samples[i] : 0));
    if (format === "s16") v.setInt16(44 + i * 2, Math.round(s < 0 ? s * 32768 : s * 32767), true);
    else v.setFloat32(44 + i * 4, s, true);
  }
  return new Uint8Array(buf);
}

/** Reads a PCM (8/16/24/32-bit int) or 32/64-bit float WAV to float samples. */
export function parseWav(bytes: Uint8Array): PcmAudio {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (off: number) => String.fromCharCode(...bytes.subarray(off, off + 4));
  if (bytes.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") {
    throw new MediaError("Not a WAV file (no RIFF/WAVE header).", { hint: "Pass a .wav file." });
  }
  let off = 12;
  let fmt: { code: number; channels: number; rate: number; bits: number } | undefined;
  while (off + 8 <= bytes.byteLength) {
    const id = tag(off);
    const size = v.getUint32(off + 4, true);
    const body = off + 8;
    if (id === "fmt ") {
      let code = v.getUint16(body, true);
      if (code === 0xfffe && size >= 26) code = v.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE
      fmt = {
        code,
        channels: v.getUint16(body + 2, true),
        rate: v.getUint32(body + 4, true),
        bits: v.getUint16(body + 14, true),
      };
    } else if (id === "data") {
      if (!fmt) throw new MediaError("WAV data chunk comes before its fmt chunk.");
      const end = Math.min(bytes.byteLength, body + (size === 0xffffffff ? bytes.byteLength : size));
      const bps = fmt.bits / 8;
      const n = Math.floor((end - body) / bps);
      const out = new Float32Array(n - (n % fmt.channels));
      for (let i = 0; i < out.length; i++) {
        const p = body + i * bps;
        if (fmt.code === 3) out[i] = bps === 8 ? v.getFloat64(p, true) : v.getFloat32(p, true);
        else if (bps === 1) out[i] = (v.getUint8(p) - 128) / 128;
        else if (bps === 2) out[i] = v.getInt16(p, true) / 32768;
        else if (bps === 3) out[i] = (v.getUint8(p) | (v.getUint8(p + 1) << 8) | (v.getInt8(p + 2) << 16)) / 8388608;
        else out[i] = v.getInt32(p, true) / 2147483648;
      }
      if (fmt.code !== 1 && fmt.code !== 3) throw new MediaError(`Unsupported WAV encoding ${fmt.code}.`);
      return { sampleRate: fmt.rate, channels: fmt.channels, samples: out };
    }
    off = body + size + (size % 2);
  }
  throw new MediaError("WAV file has no data chunk.", { hint: "The file is truncated; export it again." });
}

/**
 * Interleaved PCM from channel-first (planar) samples, `planar[c * n + i]` = sample i of channel c: the
 * layout of the Generator's decoded sound (the AVAE decoder's `[2, N]` waveform at 48 kHz), ready for
 * {@link encodeWav} or `encodeVideo`'s `audio: { pcm, sampleRate, channels }` (AAC muxed into the MP4).
 *
 * @example
 * ```ts
 * import { pcmFromPlanar } from "./audio.ts";
 * const left = [0.1, 0.2], right = [-0.1, -0.2];
 * const pcm = pcmFromPlanar(new Float32Array([...left, ...right]));
 * pcm.samples; // Float32Array [0.1, -0.1, 0.2, -0.2]
 * pcm.sampleRate; // 48000
 * ```
 * @throws {MediaError} when the sample count does not split into `channels` equal rows.
 */
export function pcmFromPlanar(
  planar: Float32Array,
  channels = COSMOS_CHANNELS,
  sampleRate = COSMOS_SAMPLE_RATE,
): PcmAudio {
  if (!Number.isInteger(channels) || channels <= 0) throw new MediaError(`Invalid channel count ${channels}.`);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new MediaError(`Invalid sample rate ${sampleRate}.`);
  if (planar.length % channels !== 0) {
    throw new MediaError(`${planar.length} samples do not split into ${channels} channel rows.`, {
      hint: "Planar audio is [channels, samples]: its length must be a multiple of the channel count.",
    });
  }
  const n = planar.length / channels;
  const samples = new Float32Array(planar.length);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) samples[i * channels + c] = planar[c * n + i];
  }
  return { sampleRate, channels, samples };
}

/** Options of {@link sineWave}. */
export interface SineOptions {
  frequency: number;
  seconds: number;
  sampleRate?: number;
  channels?: number;
  /** Peak amplitude (default 0.5). */
  amplitude?: number;
}

/** An interleaved sine tone (same signal on every channel), 48 kHz stereo by default. */
export function sineWave(o: SineOptions): Float32Array {
  const rate = o.sampleRate ?? COSMOS_SAMPLE_RATE;
  const ch = o.channels ?? COSMOS_CHANNELS;
  const n = Math.round(o.seconds * rate);
  const out = new Float32Array(n * ch);
  const amp = o.amplitude ?? 0.5;
  for (let i = 0; i < n; i++) {
    const s = amp * Math.sin((2 * Math.PI * o.frequency * i) / rate);
    for (let c = 0; c < ch; c++) out[i * ch + c] = s;
  }
  return out;
}

/** Root-mean-square level of samples (0 for silence). */
export function rms(samples: Float32Array): number {
  let s = 0;
  for (let i = 0; i < samples.length; i++) s += samples[i] * samples[i];
  return samples.length ? Math.sqrt(s / samples.length) : 0;
}
