/**
 * Every native object this process has loaded and not freed yet, so `closeNative()` can free them
 * all (a notebook that lost its handles still gets its memory back). Objects add themselves when
 * they are created and remove themselves when freed.
 *
 * And the sessions of each checkpoint ({@link CheckpointSession}): one per checkpoint (its canonical
 * real path), holding every model class loaded from it — the Reasoner's and the Generator's of one
 * Cosmos 3 folder. The engine binds their common tensors (the und tower) once, through its shared
 * weight cache (native/src/layers/weights.h).
 *
 * @example
 * ```ts
 * import { freeTracked, track } from "./registry.ts";
 * let freed = false;
 * track({ free: () => void (freed = true) });
 * await freeTracked();
 * freed; // true
 * ```
 * @module
 */

/** Anything that owns native memory until `free()` (or until the promise it returns settles). */
export interface Freeable {
  free(): void | Promise<void>;
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

/**
 * Frees every tracked object now and waits for those whose free() is asynchronous (a session ends its
 * running call first); returns how many. A failed free() does not stop the others.
 */
export async function freeTracked(): Promise<number> {
  const all = [...live];
  live.clear();
  await Promise.allSettled(all.map((o) => o.free()));
  return all.length;
}

interface ModelEntry {
  promise: Promise<Freeable>;
  model?: Freeable;
}

/**
 * What this process has loaded from one checkpoint, keyed by its canonical real path: one session per
 * model class (`"reasoner"`, `"generator"`), each loaded on first use (concurrent first opens share the
 * load; a failed load is not kept). The classes share what the engine can share: a Cosmos 3 folder
 * opened for `reason()` and `generate()` holds the und tower's weights once, and freeing one class keeps
 * the other working with its weights.
 *
 * @example
 * ```ts
 * import { checkpointSession } from "./registry.ts";
 * const c = checkpointSession("/tmp/ckpt");
 * const m = await c.open("reasoner", async () => ({ free() {} }));
 * c.kinds; // ["reasoner"]
 * await c.free();
 * c.kinds; // []
 * ```
 */
export class CheckpointSession {
  readonly #models = new Map<string, ModelEntry>();

  constructor(
    /** The checkpoint's canonical real path. */
    readonly key: string,
  ) {}

  /** The session of model class `kind`, loaded by `load` on first use. */
  open<T extends Freeable>(kind: string, load: () => Promise<T>): Promise<T> {
    const live = checkpoints.get(this.key);
    if (live && live !== this) return live.open(kind, load); // a handle kept past its last class's free
    let entry = this.#models.get(kind);
    if (!entry) {
      const e: ModelEntry = { promise: load() };
      entry = e;
      this.#models.set(kind, e);
      checkpoints.set(this.key, this);
      e.promise.then((m) => void (e.model = m), () => {
        if (this.#models.get(kind) === e) this.#drop(kind);
      });
    }
    return entry.promise as Promise<T>;
  }

  /** The model classes loaded (or loading) now. */
  get kinds(): string[] {
    return [...this.#models.keys()];
  }

  /** Forgets `model` (its own free() calls this): the next open of its class loads it again. */
  forget(model: Freeable): void {
    for (const [kind, e] of this.#models) if (e.model === model) this.#drop(kind);
  }

  /** Frees the session of one class, or of every class (running calls end first). */
  async free(kind?: string): Promise<void> {
    const entries = [...this.#models].filter(([k]) => kind === undefined || k === kind);
    for (const [k] of entries) this.#drop(k);
    await Promise.allSettled(entries.map(async ([, e]) => await (await e.promise.catch(() => undefined))?.free()));
  }

  #drop(kind: string): void {
    this.#models.delete(kind);
    if (this.#models.size === 0 && checkpoints.get(this.key) === this) checkpoints.delete(this.key);
  }
}

const checkpoints = new Map<string, CheckpointSession>();

/** The session of the checkpoint whose canonical real path is `key` (a new, empty one when none is open). */
export function checkpointSession(key: string): CheckpointSession {
  return checkpoints.get(key) ?? new CheckpointSession(key);
}

/** Every checkpoint with a model class loaded or loading. */
export function openCheckpoints(): CheckpointSession[] {
  return [...checkpoints.values()];
}

/** Frees every checkpoint's sessions (see {@link CheckpointSession.free}). */
export async function freeCheckpoints(): Promise<void> {
  const all = [...checkpoints.values()];
  checkpoints.clear();
  await Promise.allSettled(all.map((c) => c.free()));
}
