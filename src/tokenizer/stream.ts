/**
 * Incremental decoding for token streaming: bytes of each new token are appended and only
 * complete UTF-8 sequences are turned into text, so a character split across tokens (CJK,
 * emoji, accented letters in byte-level BPE) is emitted once, whole, when its last byte arrives.
 * The concatenation of every `push` plus `flush` equals decoding all ids at once.
 *
 * @example
 * ```ts
 * import { Utf8Stream } from "./stream.ts";
 * const s = new Utf8Stream();
 * s.push(new Uint8Array([0xe6, 0x97])); // "" (incomplete "日")
 * s.push(new Uint8Array([0xa5, 0x21])); // "日!"
 * s.flush(); // ""
 * ```
 * @module
 */

/** How many bytes a UTF-8 sequence starting with `b` has (0 for a continuation byte). */
function sequenceLength(b: number): number {
  if (b < 0x80) return 1;
  if (b < 0xc0) return 0;
  if (b < 0xe0) return 2;
  if (b < 0xf0) return 3;
  if (b < 0xf8) return 4;
  return 1; // invalid lead byte: replaced on its own
}

/**
 * Bytes in, text out on complete UTF-8 sequences (see the module docs).
 *
 * @example
 * ```ts
 * import { Utf8Stream } from "./stream.ts";
 * const s = new Utf8Stream();
 * s.push(new TextEncoder().encode("ok")); // "ok"
 * ```
 */
export class Utf8Stream {
  #pending = new Uint8Array(0);
  readonly #decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  /** Appends bytes; returns the text of the sequences completed so far. */
  push(bytes: Uint8Array): string {
    const buf = new Uint8Array(this.#pending.length + bytes.length);
    buf.set(this.#pending);
    buf.set(bytes, this.#pending.length);
    // Hold back a trailing sequence whose lead byte is within the last 3 bytes and incomplete.
    let cut = buf.length;
    for (let i = buf.length - 1; i >= 0 && i >= buf.length - 3; i--) {
      const n = sequenceLength(buf[i]);
      if (n === 0) continue; // continuation byte: keep looking for its lead
      if (i + n > buf.length && validContinuation(buf, i)) cut = i;
      break;
    }
    this.#pending = buf.slice(cut);
    return cut === 0 ? "" : this.#decoder.decode(buf.subarray(0, cut));
  }

  /** Emits what is left (an incomplete sequence becomes U+FFFD) and resets. */
  flush(): string {
    const rest = this.#pending;
    this.#pending = new Uint8Array(0);
    return rest.length ? this.#decoder.decode(rest) : "";
  }
}

/** True when every byte after the lead at `i` is a continuation byte (so the sequence can still complete). */
function validContinuation(buf: Uint8Array, i: number): boolean {
  for (let j = i + 1; j < buf.length; j++) if ((buf[j] & 0xc0) !== 0x80) return false;
  return true;
}
