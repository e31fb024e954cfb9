// Device check (see reason_e2e.sh): reason() through the whole TypeScript path on the native engine,
// a text prompt and an image prompt with greedy sampling, one JSON line each (backend, text, usage),
// so a COSMOS_DEVICE=cuda run can be compared with a cpu run.
import process from "node:process";
import { closeQwen3VL, reason } from "../../src/mod.ts";

const ck = process.argv[2];
const greedy = { temperature: 0, presence_penalty: 0 };
const t = await reason({
  task: "custom",
  system: "You are a helpful assistant.",
  prompt: "Describe what a robot arm does when it picks up a red cube.",
  sampling: greedy,
  maxTokens: 32,
}, { backend: ck });
console.log(JSON.stringify({ kind: "text", backend: t.backend, text: t.text, usage: t.usage }));
const i = await reason(
  { task: "custom", prompt: "Describe this image.", image: `${ck}-media/image.png`, sampling: greedy, maxTokens: 16 },
  { backend: ck },
);
console.log(JSON.stringify({ kind: "image", backend: i.backend, text: i.text, usage: i.usage }));
await closeQwen3VL();
