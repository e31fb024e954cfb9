/** HTTP helpers: base URLs, Retry-After, server messages, hints, abortable sleep. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AbortError } from "../../src/errors.ts";
import { apiBase, hintFor, retryAfterMs, serverMessageOf, sleep } from "../../src/remote/http.ts";

describe("http helpers", () => {
  for (const [url, want] of [
    ["http://h:8000", "http://h:8000/v1"],
    ["http://h:8000/", "http://h:8000/v1"],
    ["http://h:8000/v1", "http://h:8000/v1"],
    ["http://h:8000/v1/", "http://h:8000/v1"],
    ["https://proxy.example/cosmos/v1", "https://proxy.example/cosmos/v1"],
  ]) test(`apiBase ${url}`, () => assert.equal(apiBase(url), want));

  test("retryAfterMs: seconds, HTTP date, junk", () => {
    assert.equal(retryAfterMs("3"), 3000);
    assert.equal(retryAfterMs("0.5"), 500);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(retryAfterMs("soon"), undefined);
    assert.equal(retryAfterMs(null), undefined);
  });

  for (const [body, want] of [
    ['{"error": {"message": "bad model", "type": "NotFoundError"}}', "bad model"],
    ['{"object": "error", "message": "vllm style", "type": "BadRequestError", "code": 400}', "vllm style"],
    ['{"detail": "Video not found"}', "Video not found"],
    ['{"detail": [{"loc": ["body", "prompt"], "msg": "Field required"}]}', "body.prompt: Field required"],
    ['{"error": "plain"}', "plain"],
    ["Internal Server Error", "Internal Server Error"],
    ["", ""],
  ]) test(`serverMessageOf ${body.slice(0, 30)}`, () => assert.equal(serverMessageOf(body), want));

  test("hints name the next step", () => {
    assert.match(hintFor(400, "Cannot load local files without --allowed-local-media-path"), /--allowed-local-media-path/);
    assert.match(hintFor(401, ""), /API key/);
    assert.match(hintFor(404, "The model `x` does not exist"), /model/);
    assert.match(hintFor(404, "Not Found"), /server URL/);
    assert.match(hintFor(500, "boom"), /log/);
  });

  test("sleep is cut short by abort", async () => {
    const ctrl = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ctrl.abort(), 10);
    await assert.rejects(sleep(5000, ctrl.signal), AbortError);
    assert.ok(Date.now() - t0 < 1000);
  });
});
