/**
 * Every native object this process has loaded and not freed yet, so `closeNative()` can free them
 * all (a notebook that lost its handles still gets its memory back). Objects add themselves when
 * they are created and remove themselves when freed.
 *
 * @example
 * ```ts
 * import { freeTracked, track } from "./registry.ts";
 * let freed = false;
 * track({ free: () => void (freed = true) });
 * freeTracked();
 * freed; // true
 * ```
 * @module
 */

/** Anything that owns native memory until `free()`. */
export interface Freeable {
  free(): void;
}

const live = new Set<Freeable>();

/** Remembers `o` until {@link untrack} (its own free) or {@link freeTracked}. */
export function track(o: Freeable): void {
  live.add(o);
}

/** Forgets `o` (called by its free()). */
export function untrack(o: Freeable): void {
  live.delete(o);
}

/** Frees every tracked object now; returns how many. */
export function freeTracked(): number {
  const all = [...live];
  live.clear();
  for (const o of all) o.free();
  return all.length;
}
