// Request planning reads the checkpoint's configs with src/checkpoint/cosmos3.ts's schemas (one
// definition): the transformer's constraints, the VAE / transformer latent rule and the sound
// tokenizer's hop (prod(dec_strides) when unset, as Cosmos3AVAEAudioTokenizer.__init__) hold here too.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Cosmos3SoundTokenizerConfigJson } from "../../src/checkpoint/cosmos3.ts";
import { CheckpointError } from "../../src/errors.ts";
import { DEFAULT_GENERATOR_MODEL, parseGeneratorModelConfig } from "../../src/generator/config.ts";

const vae48 = { z_dim: 48, latents_mean: Array(48).fill(0), latents_std: Array(48).fill(1), scale_factor_spatial: 16 };

describe("parseGeneratorModelConfig on src/checkpoint's schemas", () => {
  test("sound hop: hop_size when set, else the product of dec_strides (here and in the checkpoint schema)", () => {
    const strides = { dec_strides: [2, 3, 5] };
    assert.equal(Cosmos3SoundTokenizerConfigJson.parse(strides).hop_size, 30);
    assert.equal(parseGeneratorModelConfig({ transformer: {}, soundTokenizer: strides }).soundHopSize, 30);
    assert.equal(parseGeneratorModelConfig({ transformer: {}, soundTokenizer: { hop_size: 7 } }).soundHopSize, 7);
  });
  test("the transformer's constraints apply: patch_latent_dim must be latent_channel × latent_patch_size²", () => {
    assert.throws(
      () => parseGeneratorModelConfig({ transformer: { latent_channel: 16 } }),
      (e: unknown) => e instanceof CheckpointError && /patch_latent_dim/.test(e.message),
    );
    const m = parseGeneratorModelConfig({ transformer: { latent_channel: 16, patch_latent_dim: 64 } });
    assert.equal(m.latentChannels, 16);
  });
  test("a VAE whose z_dim is not the transformer's latent_channel is refused; without a VAE config, Wan2.2's", () => {
    assert.throws(
      () =>
        parseGeneratorModelConfig({
          transformer: {},
          vae: { ...vae48, z_dim: 16, latents_mean: undefined, latents_std: undefined },
        }),
      (e: unknown) => e instanceof CheckpointError && /z_dim 16 differs from .*latent_channel 48/.test(e.message),
    );
    assert.equal(parseGeneratorModelConfig({ transformer: {}, vae: vae48 }).spatialCompression, 16);
    // AutoencoderKLWan.__init__'s own default is 8 when a present config leaves it out
    assert.equal(
      parseGeneratorModelConfig({ transformer: {}, vae: { ...vae48, scale_factor_spatial: undefined } })
        .spatialCompression,
      8,
    );
    assert.equal(
      parseGeneratorModelConfig({ transformer: {} }).spatialCompression,
      DEFAULT_GENERATOR_MODEL.spatialCompression,
    );
  });
  test("model_index.json: only default_use_system_prompt is read (the loader checks the rest)", () => {
    assert.equal(parseGeneratorModelConfig({ transformer: {}, modelIndex: {} }).defaultUseSystemPrompt, true);
    assert.equal(
      parseGeneratorModelConfig({ transformer: {}, modelIndex: { default_use_system_prompt: false } })
        .defaultUseSystemPrompt,
      false,
    );
  });
});
