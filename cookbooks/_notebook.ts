/**
 * Where the cookbooks' files are: the repository root (`fromRepo`), the synthetic inputs in
 * `assets/` (`asset`) and what they contain (`readScene`). Everything else a notebook uses —
 * the calls with live output, `show()`, notes, JSON and image displays — comes from the library,
 * `kernel/notebook.ts`.
 *
 * Deno's kernel resolves this module from the notebook's folder (`../_notebook.ts`). The tslab
 * variant (`reasoner/caption.tslab.ipynb`) does not need it: it runs in its folder, so its inputs
 * are relative paths (`../../assets/…`).
 *
 * @example
 * ```ts
 * import { asset, readScene } from "../_notebook.ts";
 * const scene = readScene();
 * asset("images/tabletop.png"); // "/…/cosmos-ts/assets/images/tabletop.png"
 * scene.image.boxes.length; // 5
 * ```
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is `cookbooks/_notebook.ts`). */
const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

/**
 * The absolute path of a file in the repository.
 * @example
 * ```ts
 * import { fromRepo } from "../_notebook.ts";
 * fromRepo("test/fixtures/qwen3vl-tiny"); // "/…/cosmos-ts/test/fixtures/qwen3vl-tiny"
 * ```
 */
export function fromRepo(path: string): string {
  return resolve(root, path);
}

/**
 * The absolute path of a cookbook input in `assets/` (synthetic files made by `assets/make.ts`;
 * `scripts/setup.sh` runs it).
 * @example
 * ```ts
 * import { asset } from "../_notebook.ts";
 * asset("videos/pick_place.mp4"); // "/…/cosmos-ts/assets/videos/pick_place.mp4"
 * ```
 */
export function asset(path: string): string {
  return resolve(root, "assets", path);
}

/** An event of a clip: seconds from its start and what happens. */
export interface SceneEvent {
  start: number;
  end: number;
  label: string;
}

/** A still of the procedural world (`src/world`) and where its objects are (`[x1, y1, x2, y2]`, 0–1000 grid). */
export interface WorldImage {
  path: string;
  seed: number;
  width: number;
  height: number;
  boxes: { label: string; box: [number, number, number, number] }[];
}

/** A clip of the procedural world and its ground truth (events; the plausibility label and why, where given). */
export interface WorldClip {
  path: string;
  seed: number;
  seconds: number;
  fps: number;
  frames: number;
  width: number;
  height: number;
  events: SceneEvent[];
  firstFrame?: string;
  instruction?: string;
  prompt?: string;
  label?: "plausible" | "implausible";
  why?: string[];
}

/**
 * The Generator's held-out clip of the world (a push, 17 frames at 10 fps, 320x192: the mini Generator's training
 * shape): its first frame, its 16-row single-arm (droid) 10D action chunk (under assets/) and its column layout,
 * the instruction the action modes get and the prompt text-to-video gets, both in the world's words.
 */
export interface WorldPushClip extends WorldClip {
  firstFrame: string;
  actions: string;
  embodiment: "droid";
  layout: string;
  instruction: string;
  prompt: string;
}

/** What `assets/scene.json` says about the synthetic inputs (references, not model output). */
export interface Scene {
  /** The table image's objects, `[x1, y1, x2, y2]` on the Qwen3-VL 0–1000 grid. */
  image: { boxes: { label: string; box: [number, number, number, number] }[] };
  /** The pick-and-place clip: its length and the events drawn into it. */
  pickPlace: { seconds: number; events: SceneEvent[] };
  /** The driving clip's length. */
  driving: { seconds: number };
  /** One action chunk per embodiment id: file (under assets/), dimension, steps, column layout. */
  actions: Record<string, { path: string; dim: number; steps: number; layout: string }>;
  /**
   * The procedural world's inputs (held-out seeds of the mini checkpoints' training world): the pick-and-place
   * at 832x480 (`image`, `pickPlace`) and at 320x192, the mini Reasoner's size (`smallImage`, `smallPickPlace`),
   * the Generator's push (`push`), and two implausible clips (`implausible`: a jump, `floating`).
   */
  world: {
    image: WorldImage;
    pickPlace: WorldClip;
    push: WorldPushClip;
    implausible: WorldClip;
    smallImage: WorldImage;
    smallPickPlace: WorldClip;
    floating: WorldClip;
  };
}

/**
 * Reads `assets/scene.json`: the reference boxes, events and action-chunk layouts of the inputs.
 * @example
 * ```ts
 * import { readScene } from "../_notebook.ts";
 * const scene = readScene();
 * scene.pickPlace.events.length; // 5
 * ```
 */
export function readScene(): Scene {
  return JSON.parse(readFileSync(asset("scene.json"), "utf8")) as Scene;
}
