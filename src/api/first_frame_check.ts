/**
 * The first-frame check of the mini Generator's two-pass text-to-video (`cosmos-ts.json` `first_frame_check`,
 * src/native/generator.ts `FirstFrameCheck`): a Reasoner checkpoint grounds every object of a candidate first frame,
 * and the frame is kept when each object the prompt's events name ("The orange ball slides to the right." → the
 * orange ball, src/world `eventSubjects`) is located exactly once by its colour. The mini Generator draws the scene
 * from text less reliably than it moves a drawn object (its misses are mostly an object of the wrong colour, a
 * missing one, or two of one colour: checkpoints/mini-generator/README.md), and image-to-video from a right first
 * frame follows the prompt; so pass 1 may draw a few first frames and keep the first the Reasoner finds right.
 * Shapes are not compared: the mini Reasoner names the shapes of generated objects far less reliably than their
 * colours. With `countColors` it is also asked for every object of each subject's colour: the "every object" answer
 * misses most colours drawn twice, the commonest reason a kept frame's clip does not follow.
 *
 * With `places`, when the prompt says where a subject stands ("an orange ball on the left near the camera", src/world
 * `promptPlaces`), its one box must also be centred in that column (left / middle / right, src/world `PLACE_BOUNDS`):
 * of one mini Generator's kept first frames (weights trained on such prompts), those that drew the pushed object in
 * the prompt's column followed the prompt in 116 of 128, those that drew it in another column in 21 of 33; yet on the
 * next weights the clips that follow were one fewer with it on each of two sets of prompts (78 against 79, 65 against
 * 66), at more candidates drawn (tools/train/README.md, session 41), so it is off unless a checkpoint's notes ask
 * for it. The row (towards the back / near the camera) is not compared: it told nothing (9 of 10 followed with it
 * wrong).
 *
 * @example
 * ```ts
 * import { judgeFirstFrame } from "./first_frame_check.ts";
 * const frame = { data: new Uint8Array(320 * 192 * 3), width: 320, height: 192, channels: 3 as const };
 * const v = await judgeFirstFrame(frame, "A wooden table with a red cube, a grey robot arm above it. The red cube slides to the left.", {
 *   kind: "native", checkpoint: "checkpoints/mini-reasoner",
 * });
 * v.accepted; // false: a black frame has no red cube
 * ```
 * @module
 */
import { encodeImage } from "../media/images.ts";
import type { RgbFrame } from "../media/video_decode.ts";
import type { BackendSpec, LabeledBox } from "../schema/results.ts";
import {
  colorGroundingWhat,
  eventSubjects,
  groundingPrompt,
  type ObjectPlace,
  placeAt,
  promptPlaces,
} from "../world/mod.ts";
import { reason } from "./reason.ts";

/** What the check found in one candidate first frame. */
export interface FirstFrameVerdict {
  /**
   * Each subject's colour located exactly once, in the column the prompt gives it if it gives one (true, without a
   * Reasoner call, when the prompt names none).
   */
  accepted: boolean;
  /**
   * Each subject's colour located exactly once, wherever it stands: a frame to fall back on when no candidate is
   * accepted (equal to `accepted` when the prompt gives no places).
   */
  found: boolean;
  /** The subjects located once but centred in another column than the prompt's, e.g. ["orange ball"]. */
  misplaced: string[];
  /** The objects the prompt's events name, e.g. ["orange ball"]. */
  subjects: string[];
  /** The labels the Reasoner located, e.g. ["red cube", "orange ball"]. */
  located: string[];
  /** With `countColors`: per subject colour, the labels located for "every <colour> object". */
  byColor?: { color: string; located: string[] }[];
}

/** How a frame is judged. */
export interface FirstFrameJudgeOptions {
  signal?: AbortSignal;
  /**
   * Also ask for every object of each subject's colour, and pass only with one box of it (`cosmos-ts.json`
   * `first_frame_check.count_colors`). The "every object" labels then count once each: a Reasoner that learnt
   * scenes with two objects of one colour (world_data.ts `--repeat-color-share`) sometimes repeats a label it has
   * already given, a repetition and not a second object (it never saw two objects with one label).
   */
  countColors?: boolean;
  /**
   * Also require each subject's one box in the column the prompt gives it, if it gives one (`cosmos-ts.json`
   * `first_frame_check.places`); default false.
   */
  places?: boolean;
}

/** Tokens for the Reasoner's answer: a box list of up to ~8 objects. */
const MAX_ANSWER_TOKENS = 256;

const colorOf = (label: string) => label.trim().split(/\s+/)[0]?.toLowerCase();

/** Judges one candidate first frame of `prompt` with the Reasoner `reasoner` (greedy grounding calls). */
export async function judgeFirstFrame(
  frame: RgbFrame,
  prompt: string,
  reasoner: BackendSpec,
  options: FirstFrameJudgeOptions = {},
): Promise<FirstFrameVerdict> {
  const { signal, countColors = false, places: checkPlaces = false } = options;
  const subjects = eventSubjects(prompt);
  if (subjects.length === 0) return { accepted: true, found: true, misplaced: [], subjects: [], located: [] };
  const places = checkPlaces ? promptPlaces(prompt) : new Map<string, ObjectPlace>();
  const image = { data: new Uint8Array(await encodeImage(frame, { format: "png" })), mimeType: "image/png" as const };
  const locate = async (what: string): Promise<LabeledBox[]> => {
    const r = await reason({
      task: "grounding_2d",
      prompt: groundingPrompt(what),
      image,
      maxTokens: MAX_ANSWER_TOKENS,
      sampling: { temperature: 0 },
      stream: false,
    }, { backend: reasoner, signal });
    return r.parsed.kind === "boxes" ? r.parsed.boxes : [];
  };
  const boxes = await locate("every object on the table");
  const located = boxes.map((b) => b.label);
  // with countColors a repeated label counts once (see FirstFrameJudgeOptions.countColors)
  const counted = countColors ? boxes.filter((b, i) => located.indexOf(b.label) === i) : boxes;
  const ofColor = (color: string) => counted.filter((b) => colorOf(b.label) === color);
  let found = subjects.every((s) => ofColor(s.color).length === 1);
  const misplaced = subjects.filter((s) => {
    const [one, ...more] = ofColor(s.color);
    const want = places.get(s.label);
    return one && more.length === 0 && want && columnOf(one) !== want.across;
  }).map((s) => s.label);
  const labels = subjects.map((s) => s.label);
  let byColor: { color: string; located: string[] }[] | undefined;
  if (countColors) {
    byColor = [];
    for (const color of new Set(subjects.map((s) => s.color))) {
      // one call per colour, also after a miss: the verdict records what each question found
      const more = (await locate(colorGroundingWhat(color))).map((b) => b.label);
      byColor.push({ color, located: more });
      found &&= more.length === 1 && colorOf(more[0]) === color;
    }
  }
  const accepted = found && misplaced.length === 0;
  return { accepted, found, misplaced, subjects: labels, located, ...(byColor ? { byColor } : {}) };
}

/** The column a box's centre stands in (boxes on the Qwen3-VL 0-1000 grid). */
const columnOf = (b: LabeledBox) => placeAt((b.box[0] + b.box[2]) / 2000, (b.box[1] + b.box[3]) / 2000).across;
