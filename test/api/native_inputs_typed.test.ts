// reason() on the native engine (CPU, the tiny fixture) never lets a raw TypeError / URIError /
// ENOENT through for its media: a malformed file:// URL or data URI is a ValidationError naming
// request.image / request.video, a missing file a MediaError in words, before the model runs.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { reason } from "../../src/api/reason.ts";
import { MediaError, ValidationError } from "../../src/errors.ts";
import { closeQwen3VL } from "../../src/native/qwen3vl.ts";

const CKPT = join(fileURLToPath(new URL("../fixtures/", import.meta.url)), "qwen3vl-tiny");
const backend = { kind: "native", checkpoint: CKPT, device: "cpu" } as const;

describe("native reason(): media references are checked with typed errors", () => {
  after(async () => await closeQwen3VL());
  const cases: [Record<string, unknown>, typeof ValidationError | typeof MediaError, string, RegExp][] = [
    [{ image: "file://server/share/a.png" }, ValidationError, "request.image", /malformed file:\/\/ URL/],
    [{ video: "file:///tmp/a%2Fb.mp4" }, ValidationError, "request.video", /malformed file:\/\/ URL/],
    [{ image: "data:image/png,%E0%A4%A" }, ValidationError, "request.image", /percent-encoding/],
    [{ image: "/nonexistent/cosmos-ts/a.png" }, MediaError, "", /does not exist/],
  ];
  for (const [media, kind, field, pattern] of cases) {
    test(JSON.stringify(media), async () => {
      const err = await reason({ task: "custom", prompt: "Describe it.", ...media, maxTokens: 1 }, { backend }).catch((
        e,
      ) => e);
      assert.ok(err instanceof kind, `${JSON.stringify(media)}: ${err?.name}: ${err?.message}`);
      if (field) assert.equal((err as ValidationError).field, field);
      assert.match(err.message, pattern);
      assert.doesNotMatch(err.message, /ENOENT|ERR_INVALID_FILE_URL|URIError/);
    });
  }
});
