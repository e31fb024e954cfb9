// tools/fixtures/make_mini_generator_random.ts: its shape rules give test/fixtures/cosmos3-tiny's tensor list
// (names and shapes, transformer with sound and actions, VAE encoder and decoder) from that fixture's configs,
// and its configs are train_generator.py's (read by python3 from the trainer's own functions, when python3 exists).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readSafetensorsHeader } from "../../src/checkpoint/safetensors.ts";
import {
  miniTransformerConfig,
  miniVaeConfig,
  trainerConfigs,
  transformerTensors,
  vaeTensors,
} from "../../tools/fixtures/make_mini_generator_random.ts";

const tiny = join(import.meta.dirname, "../fixtures/cosmos3-tiny");

async function stored(part: string): Promise<string[]> {
  const h = await readSafetensorsHeader(join(tiny, part, "diffusion_pytorch_model.safetensors"));
  return Object.entries(h.tensors).map(([n, t]) => `${n} [${t.shape}]`).sort();
}
const listed = (specs: { name: string; shape: number[] }[]) => specs.map((s) => `${s.name} [${s.shape}]`).sort();
const config = (part: string) => JSON.parse(readFileSync(join(tiny, part, "config.json"), "utf8"));

describe("mini Generator random checkpoint", () => {
  test("the transformer's tensor list from cosmos3-tiny's config is that fixture's", async () => {
    assert.deepEqual(listed(transformerTensors(config("transformer"))), await stored("transformer"));
  });
  test("the VAE's tensor list from cosmos3-tiny's config is that fixture's", async () => {
    assert.deepEqual(listed(vaeTensors(config("vae"))), await stored("vae"));
  });
  test("the configs are train_generator.py's transformer_config() / vae_config()", (t) => {
    const trainer = trainerConfigs();
    if (!trainer) {
      t.skip("python3 not found");
      return;
    }
    assert.deepEqual(trainer.transformer, miniTransformerConfig());
    assert.deepEqual(trainer.vae, miniVaeConfig());
  });
});
