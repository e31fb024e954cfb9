/**
 * A procedural tabletop world, deterministic and seeded: a few objects (colour × shape) on a
 * table, a robot arm whose gripper follows single-arm 10D action chunks, a fixed or orbiting
 * camera, rendered by a small software rasteriser to RGB frames at any size (320x192, the
 * smallest Generator tier; 832x480, the cookbooks'). Every sample carries its ground truth:
 * object boxes per frame (pixels and the Qwen3-VL 0–1000 grid), events with start and end
 * seconds, the action chunk and a plausibility label (implausible clips — teleports, floating,
 * passing through — are made on purpose). Same seed and options, same bytes.
 *
 * The inputs of the cookbooks (assets/make.ts) and the mini models' training data
 * (tools/train/world_data.ts) both come from here; training uses only seeds of the train split
 * (seeds.ts).
 *
 * @example
 * ```ts
 * import { makeSample, renderClip, groundingTask, SMALL } from "./mod.ts";
 * const sample = makeSample(1234, { frames: 17, fps: 10 });
 * const clip = renderClip(sample, SMALL); // 17 RGB frames, 320x192
 * sample.events; // [{ kind: "pushed", start: 0.7, end: 1.2, label: "the red cube slides to the left", … }]
 * groundingTask(sample, clip.views[0], clip.size, 0).answer; // Qwen3-VL bbox_2d JSON
 * ```
 * @module
 */
export { Prng, subSeed } from "./prng.ts";
export { assertSeedInSplit, SEED_SPLITS, seedsOf, SeedSplit, splitOfSeed } from "./seeds.ts";
export { OBJECT_COLORS, ObjectColor, ObjectShape, type Rgb, SCENERY, shadesOf } from "./palette.ts";
export { type Camera, cameraAt, project, type Vec3 } from "./geometry.ts";
export { Canvas, type RgbBuffer } from "./raster.ts";
export { makeScene, Scene, type SceneOptions, WorldObject } from "./scene.ts";
export { ACTION_DIM, actionRow, GRIPPER_CONVENTION, type GripperPose, poseOfRow } from "./gripper.ts";
export {
  Direction,
  DIRECTION_WORDS,
  FrameState,
  planScenario,
  Scenario,
  ScenarioKind,
  simulate,
  Trace,
} from "./sim.ts";
export { EventKind, eventsOf, WorldEvent } from "./events.ts";
export { AnomalyKind, findViolations, injectAnomaly, Violation } from "./plausibility.ts";
export { cameraForFrame, type ObjectView, type RenderedFrame, renderFrame, type Size } from "./render.ts";
export {
  COOKBOOK,
  gridBox,
  gridPoint,
  makeSample,
  renderClip,
  type RenderedClip,
  SampleOptions,
  SMALL,
  type WorldSample,
} from "./sample.ts";
export {
  actionTask,
  captionOf,
  captionTask,
  colorGroundingWhat,
  describeTask,
  eventSubjects,
  type GeneratorEventRecord,
  generatorEvents,
  generatorPrompt,
  type GeneratorPromptOptions,
  groundingPrompt,
  groundingTask,
  type ObjectPlace,
  objectPlaces,
  PLACE_BOUNDS,
  placeAt,
  PlausibilityAnswerStyle,
  plausibilityTask,
  promptPlaces,
  type PromptSubject,
  promptWithPlaces,
  type TaskItem,
  temporalTask,
  visibleObjects,
} from "./tasks.ts";
export { pngOf, writeClip, type WriteClipOptions } from "./io.ts";
export {
  classifyPixel,
  type FrameSegments,
  hsv,
  type Motion,
  motionOf,
  type Segment,
  SEGMENT_THRESHOLDS,
  segmentFrame,
  trackColors,
} from "./segment.ts";
