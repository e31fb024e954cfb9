/**
 * A first-in first-out queue of async jobs that run one at a time. A native model object runs one
 * call at a time (a second one is refused with BUSY), so a session puts every call that touches
 * its models through one of these: concurrent calls wait their turn in arrival order instead of
 * failing. A waiting job whose signal aborts leaves the queue at once and its promise rejects with
 * {@link AbortError} without waiting for the jobs ahead of it; {@link RunQueue.close} rejects the
 * waiting ones with the caller's error and resolves once the running one has ended.
 *
 * @example
 * ```ts
 * import { RunQueue } from "./queue.ts";
 * const q = new RunQueue();
 * const order: number[] = [];
 * await Promise.all([1, 2, 3].map((n) => q.run(async () => void order.push(n))));
 * order; // [1, 2, 3]
 * ```
 * @module
 */
import { AbortError } from "../errors.ts";

interface Waiting {
  start(): void;
  fail(e: unknown): void;
}

/** See the module docs. */
export class RunQueue {
  #waiting: Waiting[] = [];
  #running: Promise<void> | undefined;

  /** Jobs waiting (not counting the running one). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Whether a job is running now. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Runs `job` after every job queued before it has settled; its result or error is returned.
   * @throws {AbortError} at once when `signal` is already aborted or aborts while the job waits
   *   (once started, the job itself decides how to answer the signal).
   */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiting.indexOf(entry);
        if (i < 0) return; // started meanwhile: the job answers the signal
        this.#waiting.splice(i, 1);
        reject(
          new AbortError("The call was aborted while it waited for the calls ahead of it.", { cause: signal?.reason }),
        );
      };
      const entry: Waiting = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          const done = (async () => {
            try {
              resolve(await job());
            } catch (e) {
              reject(e);
            }
          })();
          this.#running = done;
          void done.then(() => {
            this.#running = undefined;
            this.#next();
          });
        },
        fail: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(entry);
      if (!this.#running) this.#next();
    });
  }

  /**
   * Rejects every waiting job with `error()` and resolves when the running one (if any) has ended.
   *
   * @example
   * ```ts
   * import { RunQueue } from "./queue.ts";
   * const q = new RunQueue();
   * await q.close(() => new Error("closed"));
   * ```
   */
  async close(error: () => unknown): Promise<void> {
    for (const w of this.#waiting.splice(0)) w.fail(error());
    await this.#running;
  }

  #next(): void {
    const w = this.#waiting.shift();
    w?.start();
  }
}
