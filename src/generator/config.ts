/**
 * What request planning needs from a Cosmos 3 Generator checkpoint in the diffusers layout:
 * `transformer/config.json` (`Cosmos3OmniTransformer`: rope settings, patch size, action and sound
 * heads), `vae/config.json` (`AutoencoderKLWan`: compression, latent channels),
 * `sound_tokenizer/config.json` (`Cosmos3AVAEAudioTokenizer`: sample rate, hop) and
 * `model_index.json` (`default_use_system_prompt`), and for a distilled checkpoint `modular_model_index.json`
 * with `scheduler/scheduler_config.json` (its fixed schedule), each parsed with src/checkpoint/cosmos3.ts's
 * schemas (one definition: the classes' `__init__` defaults and constraints, diffusers 58eb52c0).
 *
 * @example
 * ```ts
 * import { DEFAULT_GENERATOR_MODEL } from "./config.ts";
 * DEFAULT_GENERATOR_MODEL.spatialCompression * DEFAULT_GENERATOR_MODEL.latentPatchSize; // 32 pixels per token side
 * ```
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  checkVaeFitsTransformer,
  type Cosmos3DistilledSchedule,
  cosmos3DistilledSchedule,
  Cosmos3ModelIndexJson,
  Cosmos3ModularModelIndexJson,
  Cosmos3SchedulerConfigJson,
  Cosmos3SoundTokenizerConfigJson,
  Cosmos3TransformerConfigJson,
  WanVaeConfigJson,
} from "../checkpoint/cosmos3.ts";
import { parseJsonValue, readJsonFile } from "../checkpoint/json.ts";
import { CheckpointError } from "../errors.ts";
import { VAE_TEMPORAL_COMPRESSION } from "../schema/diffusion_defaults.ts";
import { DEFAULT_ROPE_CONFIG, type GeneratorRopeConfig } from "./positions.ts";

/** The model facts request planning uses. */
export interface GeneratorModelConfig extends GeneratorRopeConfig {
  /** VAE `z_dim` = transformer `latent_channel` (48). */
  latentChannels: number;
  /** VAE `scale_factor_spatial` (16): pixels per latent side; sizes must be multiples of it. */
  spatialCompression: number;
  /** Transformer `latent_patch_size` (2): latents per token side (odd latent sides are zero-padded). */
  latentPatchSize: number;
  /** Transformer `action_gen`: has the action heads (policy, forward / inverse dynamics). */
  actionGen: boolean;
  /** Transformer `action_dim` (64): action rows are zero-padded to this width. */
  actionDim?: number;
  /** Transformer `num_embodiment_domains` (32). */
  numEmbodimentDomains: number;
  /** Transformer `sound_gen` with a sound tokenizer: can make sound. */
  soundGen: boolean;
  /** Transformer `sound_dim` (64). */
  soundDim?: number;
  /** Sound tokenizer `sampling_rate` (48000). */
  soundSampleRate: number;
  /** Sound tokenizer `hop_size` (1920): waveform samples per sound latent frame. */
  soundHopSize: number;
  /** model_index.json `default_use_system_prompt` (the pipeline's default true; released checkpoints false). */
  defaultUseSystemPrompt: boolean;
  /**
   * A distilled few-step checkpoint's schedule (modular_model_index.json `distilled_sigmas`, src/checkpoint/cosmos3.ts
   * `cosmos3DistilledSchedule`): runs take these sigmas, guidance 1, and re-anchor the clean frames after each step.
   */
  distilled?: Cosmos3DistilledSchedule;
}

/** Cosmos3-Nano / Super as the released configs give them (cosmos3-generator.md §3.1). */
export const DEFAULT_GENERATOR_MODEL: Readonly<GeneratorModelConfig> = Object.freeze({
  ...DEFAULT_ROPE_CONFIG,
  latentChannels: 48,
  spatialCompression: 16,
  latentPatchSize: 2,
  actionGen: true,
  actionDim: 64,
  numEmbodimentDomains: 32,
  soundGen: true,
  soundDim: 64,
  soundSampleRate: 48000,
  soundHopSize: 1920,
  defaultUseSystemPrompt: false,
});

/** Planning reads one flag of model_index.json; the whole file is checked by `loadCosmos3Checkpoint`. */
const ModelIndexFlags = Cosmos3ModelIndexJson.pick({ default_use_system_prompt: true });

/**
 * Parses the four config files' contents (undefined = file absent) with src/checkpoint's schemas
 * (the diffusers classes' defaults and constraints). Without a VAE config the Wan2.2 VAE's
 * compression is assumed ({@link DEFAULT_GENERATOR_MODEL}).
 * @throws {CheckpointError} naming the file and field.
 */
export function parseGeneratorModelConfig(files: {
  transformer: unknown;
  vae?: unknown;
  soundTokenizer?: unknown;
  modelIndex?: unknown;
  modularIndex?: unknown;
  scheduler?: unknown;
}): GeneratorModelConfig {
  const t = parseJsonValue("transformer/config.json", files.transformer, Cosmos3TransformerConfigJson);
  const v = files.vae === undefined ? undefined : parseJsonValue("vae/config.json", files.vae, WanVaeConfigJson);
  const s = parseJsonValue("sound_tokenizer/config.json", files.soundTokenizer ?? {}, Cosmos3SoundTokenizerConfigJson);
  const modular = files.modularIndex === undefined
    ? undefined
    : parseJsonValue("modular_model_index.json", files.modularIndex, Cosmos3ModularModelIndexJson);
  const m = parseJsonValue("model_index.json", files.modelIndex ?? modular ?? {}, ModelIndexFlags);
  const distilled = files.scheduler === undefined ? undefined : cosmos3DistilledSchedule(
    modular,
    parseJsonValue("scheduler/scheduler_config.json", files.scheduler, Cosmos3SchedulerConfigJson),
    "scheduler/scheduler_config.json",
  );
  if (v) checkVaeFitsTransformer(v, t, "vae/config.json");
  const temporalCompression = v?.scale_factor_temporal ?? VAE_TEMPORAL_COMPRESSION;
  if (temporalCompression !== VAE_TEMPORAL_COMPRESSION) {
    // Frame counts (4k + 1) and latent frames are the Wan2.2 VAE's throughout cosmos-ts (src/schema).
    throw new CheckpointError(
      `vae/config.json: scale_factor_temporal is ${temporalCompression}; Cosmos 3's Wan2.2 VAE has ${VAE_TEMPORAL_COMPRESSION}.`,
      { hint: "Use a Cosmos 3 checkpoint (its vae/ folder is the Wan2.2 VAE)." },
    );
  }
  return {
    baseFps: t.base_fps,
    enableFpsModulation: t.enable_fps_modulation,
    temporalModalityMargin: t.unified_3d_mrope_temporal_modality_margin,
    resetSpatialIds: t.unified_3d_mrope_reset_spatial_ids,
    soundLatentFps: t.sound_latent_fps,
    temporalCompression,
    latentChannels: t.latent_channel,
    spatialCompression: v?.scale_factor_spatial ?? DEFAULT_GENERATOR_MODEL.spatialCompression,
    latentPatchSize: t.latent_patch_size,
    actionGen: t.action_gen && t.action_dim != null,
    actionDim: t.action_dim ?? undefined,
    numEmbodimentDomains: t.num_embodiment_domains,
    soundGen: t.sound_gen && t.sound_dim != null && files.soundTokenizer !== undefined,
    soundDim: t.sound_dim ?? undefined,
    soundSampleRate: s.sampling_rate,
    soundHopSize: s.hop_size,
    // The distilled pipeline's text step passes use_system_prompt=True unless told otherwise (its input default),
    // so default_use_system_prompt does not apply there (diffusers 58eb52c0 Cosmos3DistilledTextEncoderStep).
    defaultUseSystemPrompt: distilled ? true : m.default_use_system_prompt,
    ...(distilled ? { distilled } : {}),
  };
}

/**
 * Reads a diffusers-layout Cosmos 3 checkpoint's configs (`transformer/config.json` required; the
 * VAE, sound tokenizer, model_index.json, modular_model_index.json and scheduler config when present).
 *
 * @example
 * ```ts
 * import { loadGeneratorModelConfig } from "./config.ts";
 * const model = await loadGeneratorModelConfig("/models/Cosmos3-Nano");
 * model.soundGen; // true
 * ```
 */
export async function loadGeneratorModelConfig(dir: string): Promise<GeneratorModelConfig> {
  const read = (rel: string) => {
    const path = join(dir, rel);
    return existsSync(path) ? readJsonFile(path) : Promise.resolve(undefined);
  };
  const [transformer, vae, soundTokenizer, modelIndex, modularIndex, scheduler] = await Promise.all([
    readJsonFile(join(dir, "transformer", "config.json")),
    read(join("vae", "config.json")),
    read(join("sound_tokenizer", "config.json")),
    read("model_index.json"),
    read("modular_model_index.json"),
    read(join("scheduler", "scheduler_config.json")),
  ]);
  return parseGeneratorModelConfig({ transformer, vae, soundTokenizer, modelIndex, modularIndex, scheduler });
}
