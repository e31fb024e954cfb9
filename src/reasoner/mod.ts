/**
 * Reasoner prompt building and output parsing, shared by the native and remote paths.
 *
 * @example
 * ```ts
 * import { parseAnswer, splitThink } from "./mod.ts";
 * const { answer } = splitThink("<think>two cups</think>[{\"bbox_2d\": [1, 2, 3, 4], \"label\": \"cup\"}]");
 * parseAnswer("grounding_2d", answer).kind; // "boxes"
 * ```
 * @module
 */
export {
  buildMessages,
  type BuildMessagesOptions,
  bytesToDataUri,
  isUnderRoot,
  mediaBytes,
  mediaUrl,
  userText,
} from "./messages.ts";
export { boxToPixels, drawSubjectMarks, MARK_COLORS, marksSvg } from "./marks.ts";
export {
  splitThink,
  type SplitThinkOptions,
  THINK_CLOSE,
  THINK_OPEN,
  type ThinkSplit,
  ThinkStreamSplitter,
} from "./think.ts";
export { extractJsonValues, fencedBlocks, repairTruncated } from "./json_extract.ts";
export {
  parseAnswer,
  parseBoxes,
  parseEvents,
  parseLabel,
  type ParseOptions,
  parseSubjects,
  parseTimestamp,
  parseTrajectory,
} from "./parse.ts";
export { reasonResult } from "./result.ts";
