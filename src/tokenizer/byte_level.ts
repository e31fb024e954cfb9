/**
 * GPT-2's byte-level alphabet: every byte 0..255 is written as one printable Unicode
 * character (`bytes_to_unicode` in openai/gpt-2 and huggingface/tokenizers), so that a
 * byte-level BPE vocabulary is made of ordinary strings. A space is `Ġ` (U+0120), a
 * newline `Ċ` (U+010A).
 *
 * @example
 * ```ts
 * import { bytesToByteLevel, byteLevelToBytes } from "./byte_level.ts";
 * bytesToByteLevel(new TextEncoder().encode(" hi\n")); // "ĠhiĊ"
 * new TextDecoder().decode(byteLevelToBytes("ĠhiĊ")!); // " hi\n"
 * ```
 * @module
 */

function buildTables(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const byteToChar: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    byteToChar[b] = keep.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + n++);
  }
  const charToByte = new Map<string, number>();
  byteToChar.forEach((c, b) => charToByte.set(c, b));
  return { byteToChar, charToByte };
}

const TABLES = buildTables();

/**
 * The byte-level character of each byte (index = byte).
 *
 * @example
 * ```ts
 * import { BYTE_TO_CHAR } from "./byte_level.ts";
 * BYTE_TO_CHAR[32]; // "Ġ"
 * ```
 */
export const BYTE_TO_CHAR: readonly string[] = Object.freeze(TABLES.byteToChar);

/**
 * Writes bytes as byte-level characters.
 *
 * @example
 * ```ts
 * import { bytesToByteLevel } from "./byte_level.ts";
 * bytesToByteLevel(new Uint8Array([0xc3, 0xa9])); // "Ã©" (the UTF-8 bytes of "é")
 * ```
 */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += TABLES.byteToChar[b];
  return s;
}

/**
 * Reads byte-level characters back into bytes; `undefined` when a character is not in the
 * byte-level alphabet (huggingface/tokenizers then keeps the token's own UTF-8 bytes).
 *
 * @example
 * ```ts
 * import { byteLevelToBytes } from "./byte_level.ts";
 * byteLevelToBytes("Ġok"); // Uint8Array [32, 111, 107]
 * byteLevelToBytes("日"); // undefined
 * ```
 */
export function byteLevelToBytes(token: string): Uint8Array | undefined {
  const out: number[] = [];
  for (const c of token) {
    const b = TABLES.charToByte.get(c);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return Uint8Array.from(out);
}
