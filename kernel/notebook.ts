/**
 * Everything a notebook needs, in one import: the library (`src/mod.ts`: schemas, errors,
 * backends), the display layer (`kernel/mod.ts`: `show()` and the renderers), and the
 * notebook-aware `reason()`, `generate()` and `rollout()` of `kernel/calls.ts`, which stream tokens
 * and show a progress bar per stage while they run. These three take the place of the library's
 * calls of the same names; outside a notebook they are the library's calls. `dist/cosmos.cjs`
 * (tslab) is built from this module.
 *
 * @example
 * ```ts
 * import { reason, show } from "./notebook.ts";
 * await show(reason({ task: "caption", video: "assets/videos/pick_place.mp4" }, { backend: "http://127.0.0.1:8000/v1" }));
 * ```
 * @module
 */
export * from "../src/mod.ts";
export * from "./mod.ts";
// Explicit exports win over the two `export *` above, which both have names these take.
export {
  generate,
  generateRequestSent,
  notebookBackend,
  type NotebookBackendOptions,
  type NotebookRunOptions,
  reason,
  reasonSamplingSent,
  rollout,
  rolloutRequestSent,
} from "./calls.ts";
export { splitThink, type ThinkSplit } from "./stream.ts"; // src/reasoner has its own; the display's one here
