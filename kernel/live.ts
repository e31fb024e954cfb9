/**
 * A display that is updated in place: the first render sends `display_data` with a display
 * id, later renders send `update_display_data`; renders are throttled and kept in order.
 * The building block of streaming text and progress bars.
 *
 * @example
 * ```ts
 * import { LiveDisplay } from "./live.ts";
 * let n = 0;
 * const live = new LiveDisplay(() => ({ "text/plain": `n = ${n}` }), { throttleMs: 100 });
 * for (; n < 10; n++) live.schedule();
 * await live.flush();
 * ```
 * @module
 */
import { display } from "./runtime.ts";
import { type MimeBundle, uniqueId } from "./mime.ts";

/** Options of {@link LiveDisplay}. */
export interface LiveDisplayOptions {
  /** Minimum time between two renders in milliseconds (default 100). */
  throttleMs?: number;
  /** The display id (default: a fresh one). */
  displayId?: string;
}

/** A throttled, in-place updated display of whatever `render()` returns. */
export class LiveDisplay {
  /** The Jupyter display id of this output. */
  readonly displayId: string;
  /** How many messages were sent (first display + updates). */
  sent = 0;
  readonly #render: () => MimeBundle;
  readonly #throttleMs: number;
  #last = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #error: unknown;

  constructor(render: () => MimeBundle, o: LiveDisplayOptions = {}) {
    this.#render = render;
    this.#throttleMs = o.throttleMs ?? 100;
    this.displayId = o.displayId ?? uniqueId("cosmos-live");
  }

  #send(): void {
    this.#last = Date.now();
    const bundle = this.#render();
    const update = this.sent > 0;
    this.sent++;
    this.#chain = this.#chain
      .then(() => display(bundle, { displayId: this.displayId, update }))
      .catch((e) => {
        this.#error ??= e;
      });
  }

  /** Renders now if the last render is older than the throttle, else once the throttle ends. */
  schedule(): void {
    if (this.#timer !== undefined) return;
    const wait = this.#throttleMs - (Date.now() - this.#last);
    if (this.sent === 0 || wait <= 0) {
      this.#send();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#send();
    }, wait);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Renders the final state now and waits until every message was handed to the kernel. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#send();
    await this.#chain;
    if (this.#error) throw this.#error;
  }
}
