import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { describeBackend, resolveBackend } from "../../src/backend/mod.ts";
import { CosmosError, ValidationError } from "../../src/errors.ts";

describe("resolveBackend", () => {
  test("a URL option is a remote server; trailing slashes dropped; env fills model and key", () => {
    const b = resolveBackend("http://127.0.0.1:8000/v1/", "reasoner", {
      COSMOS_MODEL: "nvidia/cosmos3-nano-reasoner",
      COSMOS_API_KEY: "k",
    });
    assert.deepEqual(b, {
      kind: "remote",
      url: "http://127.0.0.1:8000/v1",
      model: "nvidia/cosmos3-nano-reasoner",
      apiKey: "k",
    });
  });
  test("a folder or repo id is a native checkpoint; COSMOS_DEVICE picks the device", () => {
    assert.deepEqual(resolveBackend("nvidia/Cosmos3-Nano", "reasoner", {}), {
      kind: "native",
      checkpoint: "nvidia/Cosmos3-Nano",
      device: "auto",
    });
    assert.deepEqual(resolveBackend("native:/ckpt", "generator", { COSMOS_DEVICE: "cpu" }), {
      kind: "native",
      checkpoint: "/ckpt",
      device: "cpu",
    });
  });
  test("surface variables win over COSMOS_BACKEND; the option wins over both", () => {
    const env = { COSMOS_BACKEND: "/a", COSMOS_REASONER_BACKEND: "http://r:1", COSMOS_GENERATOR_BACKEND: "http://g:2" };
    assert.equal(describeBackend(resolveBackend(undefined, "reasoner", env)), "remote:http://r:1");
    assert.equal(describeBackend(resolveBackend(undefined, "generator", env)), "remote:http://g:2");
    assert.equal(describeBackend(resolveBackend(undefined, "reasoner", { COSMOS_BACKEND: "/a" })), "native:auto (/a)");
    assert.equal(describeBackend(resolveBackend("/b", "reasoner", env)), "native:auto (/b)");
  });
  test("nothing configured: a CosmosError that says which variable to set", () => {
    assert.throws(() => resolveBackend(undefined, "generator", {}), (e: unknown) => {
      assert.ok(e instanceof CosmosError);
      assert.equal(e.code, "no_backend");
      assert.match(e.message, /COSMOS_GENERATOR_BACKEND/);
      return true;
    });
  });
  test("an explicit spec is validated", () => {
    assert.throws(() => resolveBackend({ kind: "remote", url: "ftp://x" }, "reasoner", {}), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.equal(e.field, "backend.url");
      return true;
    });
    assert.throws(
      () => resolveBackend({ kind: "native", checkpoint: "/c", device: "tpu" } as never, "reasoner", {}),
      ValidationError,
    );
  });
});
