/**
 * A user's script, as the README teaches it: imports `src/mod.ts` and `kernel/mod.ts`, builds
 * typed requests, calls the three functions with streaming and progress callbacks and handles the
 * typed errors. It is type-checked in CI with both compilers a user may run — `npx tsc -p
 * test/typecheck` (our TypeScript, not tslab's fork that npm also links as `tsc`) and
 * `deno check test/typecheck/user_script.ts` — so that the library's public types stay usable
 * from outside. It is not run by the tests (it needs a real backend); run it by hand with
 * `COSMOS_BACKEND=<checkpoint or URL> node --import tsx test/typecheck/user_script.ts`.
 *
 * @example
 * ```sh
 * npx tsc -p test/typecheck
 * node_modules/.bin/deno check test/typecheck/user_script.ts
 * ```
 * @module
 */
import {
  CosmosError,
  generate,
  type GenerateRequestInput,
  reason,
  type ReasonRequestInput,
  type ReasonResult,
  rollout,
  type RolloutRequestInput,
  type RunOptions,
  ValidationError,
} from "../../src/mod.ts";
import { progressReporter, show, streamText } from "../../kernel/mod.ts";

const caption: ReasonRequestInput = { task: "caption", video: "assets/videos/pick_place.mp4", maxTokens: 256 };
const video: GenerateRequestInput = { prompt: "A robot arm stacks two cubes.", resolution: "480p", sound: true };
const policy: RolloutRequestInput = {
  mode: "policy",
  embodiment: "droid",
  image: "assets/images/tabletop.png",
  prompt: "Pick up the red cube.",
};

async function main(): Promise<void> {
  const controller = new AbortController();
  const onProgress = progressReporter();
  const text = streamText({ title: "caption" });
  const options: RunOptions = { signal: controller.signal, onProgress, onToken: text.onToken };
  try {
    const result: ReasonResult = await reason(caption, options);
    await text.done({ reasoning: result.reasoning, answer: result.answer });
    if (result.parsed.kind === "text") console.log(result.parsed.text.length, "characters");
    await show(result);
    const clip = await generate(video, { onProgress });
    console.log(clip.media.path, clip.media.hasSound);
    const actions = await rollout(policy, { onProgress });
    console.log(actions.actions?.length ?? 0, "steps");
  } catch (e) {
    if (e instanceof ValidationError) console.error("bad request:", e.message);
    else if (e instanceof CosmosError) console.error(`${e.name} (${e.code}): ${e.message}`, e.hint ?? "");
    else throw e;
  } finally {
    await onProgress.finish();
  }
}

await main();
