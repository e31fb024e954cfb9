/**
 * Cosmos 3 checkpoints in the diffusers layout (what `Cosmos3OmniPipeline.save_pretrained` and
 * NVIDIA's converter write): `model_index.json` names the components (the converter also writes
 * `modular_model_index.json`, which for the distilled few-step checkpoints holds `distilled_sigmas`), `transformer/` holds the
 * MoT backbone (`config.json` + `diffusion_pytorch_model.safetensors`, or shards listed by
 * `diffusion_pytorch_model.safetensors.index.json`), `vae/`, `scheduler/`, `text_tokenizer/`,
 * optionally `sound_tokenizer/`, and the Qwen3-VL vision tower as the sidecar `vision_encoder/`
 * (a `Qwen3VLVisionModel`: `config.json` + `model.safetensors`, keys without a prefix).
 *
 * The configs are validated with zod against the diffusers classes' `__init__` (keys, defaults,
 * the constraints of `Cosmos3OmniTransformer`). {@link cosmos3Reasoner} turns the checkpoint into
 * what the native Qwen3-VL engine reads: the und tower's tensors under their Qwen3-VL names (a
 * rename map handed to the native loader; the generation tower's tensors are not read), the
 * vision tower from the sidecar, and a Qwen3-VL config assembled from `transformer/config.json`,
 * `vision_encoder/config.json` and the tokenizer's special tokens (or taken from a root
 * `config.json` of model_type `cosmos3_omni`, which the Reasoner plugins of cosmos-framework read).
 *
 * @example
 * ```ts
 * import { loadCosmos3Checkpoint } from "./cosmos3.ts";
 * const ck = await loadCosmos3Checkpoint("test/fixtures/cosmos3-reasoner-tiny");
 * ck.transformer.config.num_hidden_layers; // 3
 * ck.modelIndex.transformer; // ["diffusers", "Cosmos3OmniTransformer"]
 * ```
 * @module
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { CheckpointError } from "../errors.ts";
import {
  parseQwen3VLConfig,
  type Qwen3VLConfig,
  type Qwen3VLVisionConfigJson,
  Qwen3VLVisionConfigJson as VisionConfigSchema,
} from "./config.ts";
import { SafetensorsIndexJson } from "./files.ts";
import { parseJsonValue, readJsonFile } from "./json.ts";
import { resolveCheckpoint, type ResolvedCheckpoint, type ResolveOptions } from "./resolve.ts";
import { readSafetensorsHeader } from "./safetensors.ts";

const PosInt = z.number().int().positive();

/** A component entry of `model_index.json`: `[library, class]`, or `[null, null]` for an absent optional one. */
const ComponentEntry = z.tuple([z.string().nullable(), z.string().nullable()]);

/**
 * `model_index.json` of a `Cosmos3OmniPipeline` (its `register_to_config` flags and components).
 *
 * @example
 * ```ts
 * import { Cosmos3ModelIndexJson } from "./cosmos3.ts";
 * Cosmos3ModelIndexJson.parse({
 *   _class_name: "Cosmos3OmniPipeline", transformer: ["diffusers", "Cosmos3OmniTransformer"],
 *   vae: ["diffusers", "AutoencoderKLWan"], scheduler: ["diffusers", "UniPCMultistepScheduler"],
 *   text_tokenizer: ["transformers", "Qwen2Tokenizer"],
 * }).enable_safety_checker; // true
 * ```
 */
export const Cosmos3ModelIndexJson = z.looseObject({
  _class_name: z.literal("Cosmos3OmniPipeline", { error: 'expected "Cosmos3OmniPipeline" (a Cosmos 3 pipeline)' }),
  _diffusers_version: z.string().optional(),
  enable_safety_checker: z.boolean().default(true),
  default_use_system_prompt: z.boolean().default(true),
  use_native_flow_schedule: z.boolean().default(false),
  transformer: z.tuple([z.string(), z.literal("Cosmos3OmniTransformer")]),
  vae: z.tuple([z.string(), z.literal("AutoencoderKLWan")]),
  scheduler: z.tuple([
    z.string(),
    z.enum(["UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler"], {
      error: "expected UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler",
    }),
  ]),
  text_tokenizer: z.tuple([z.string(), z.string()]),
  sound_tokenizer: ComponentEntry.optional(),
  safety_checker: ComponentEntry.optional(),
});
/** @see {@link Cosmos3ModelIndexJson} */
export type Cosmos3ModelIndexJson = z.infer<typeof Cosmos3ModelIndexJson>;

/** A component of `modular_model_index.json`: `[library, class, loading spec]` (diffusers' ComponentSpec as saved). */
function modularComponent<C extends z.ZodType<string>>(cls: C) {
  return z.tuple([
    z.string(),
    cls,
    z.looseObject({
      pretrained_model_name_or_path: z.string().nullish(),
      subfolder: z.string().nullish(),
      variant: z.string().nullish(),
      revision: z.string().nullish(),
    }),
  ]);
}
const OptionalModularComponent = z.union([
  z.tuple([z.null(), z.null()]),
  z.tuple([z.string().nullable(), z.string().nullable(), z.looseObject({}).nullable()]),
]);

/**
 * `modular_model_index.json` of a Cosmos 3 modular pipeline (diffusers' `ModularPipeline` config, as
 * cosmos-framework's `convert_model_to_diffusers.py` writes it beside `model_index.json`): the pipeline
 * and blocks classes, the behaviour flags, and each component as `[library, class, {
 * pretrained_model_name_or_path, subfolder, ... }]`. A `Cosmos3DistilledModularPipeline` (the few-step
 * `-4Step` checkpoints) carries its fixed schedule in `distilled_sigmas`.
 *
 * @example
 * ```ts
 * import { Cosmos3ModularModelIndexJson } from "./cosmos3.ts";
 * const spec = (cls: string, sub: string) => ["diffusers", cls, { pretrained_model_name_or_path: "x", subfolder: sub }];
 * Cosmos3ModularModelIndexJson.parse({
 *   _class_name: "Cosmos3DistilledModularPipeline", distilled_sigmas: [0.999, 0.75, 0.5, 0.25],
 *   transformer: spec("Cosmos3OmniTransformer", "transformer"), vae: spec("AutoencoderKLWan", "vae"),
 *   scheduler: spec("FlowMatchEulerDiscreteScheduler", "scheduler"), text_tokenizer: spec("Qwen2Tokenizer", "text_tokenizer"),
 * }).distilled_sigmas?.length; // 4
 * ```
 */
export const Cosmos3ModularModelIndexJson = z.looseObject({
  _class_name: z.enum(["Cosmos3DistilledModularPipeline", "Cosmos3OmniModularPipeline"], {
    error: 'expected "Cosmos3DistilledModularPipeline" or "Cosmos3OmniModularPipeline" (a Cosmos 3 modular pipeline)',
  }),
  _blocks_class_name: z.string().nullish(),
  _diffusers_version: z.string().optional(),
  is_distilled: z.boolean().optional(),
  distilled_sigmas: z.array(z.number().min(0).max(1)).min(1).nullish(),
  default_use_system_prompt: z.boolean().default(true),
  enable_safety_checker: z.boolean().default(true),
  use_native_flow_schedule: z.boolean().default(false),
  transformer: modularComponent(z.literal("Cosmos3OmniTransformer")),
  vae: modularComponent(z.literal("AutoencoderKLWan")),
  scheduler: modularComponent(
    z.enum(["UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler"], {
      error: "expected UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler",
    }),
  ),
  text_tokenizer: modularComponent(z.string()),
  sound_tokenizer: OptionalModularComponent.optional(),
  safety_checker: OptionalModularComponent.optional(),
}).superRefine((m, ctx) => {
  const distilled = m._class_name === "Cosmos3DistilledModularPipeline";
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (m.is_distilled !== undefined && m.is_distilled !== distilled) {
    issue("is_distilled", `is ${m.is_distilled} but _class_name is ${m._class_name}`);
  }
  if (distilled && !m.distilled_sigmas) {
    issue("distilled_sigmas", "a Cosmos3DistilledModularPipeline samples on these fixed sigmas: the list is required");
  }
  if (distilled && m.scheduler[1] !== "FlowMatchEulerDiscreteScheduler") {
    issue("scheduler", "a Cosmos3DistilledModularPipeline steps with FlowMatchEulerDiscreteScheduler");
  }
});
/** @see {@link Cosmos3ModularModelIndexJson} */
export type Cosmos3ModularModelIndexJson = z.infer<typeof Cosmos3ModularModelIndexJson>;

/**
 * `transformer/config.json`: `Cosmos3OmniTransformer`'s `register_to_config` arguments with the
 * defaults of its `__init__` (diffusers 58eb52c0), and its constraints: `patch_latent_dim =
 * latent_channel × latent_patch_size²`, `2 × sum(rope_axes_dim) = head_dim`, `action_gen` needs
 * `action_dim`, `sound_gen` needs `sound_dim`, `hidden_act` is silu or relu2. A missing
 * `rope_axes_dim` is `rope_scaling.mrope_section`, else [24, 20, 20] (as `__init__` resolves it).
 *
 * @example
 * ```ts
 * import { Cosmos3TransformerConfigJson } from "./cosmos3.ts";
 * const c = Cosmos3TransformerConfigJson.parse({ _class_name: "Cosmos3OmniTransformer" });
 * [c.hidden_size, c.num_hidden_layers, c.rope_axes_dim]; // [4096, 36, [24, 20, 20]]
 * ```
 */
export const Cosmos3TransformerConfigJson = z.looseObject({
  _class_name: z.literal("Cosmos3OmniTransformer").optional(),
  attention_bias: z.boolean().default(false),
  attention_dropout: z.number().nonnegative().default(0),
  head_dim: PosInt.default(128),
  hidden_size: PosInt.default(4096),
  intermediate_size: PosInt.default(12288),
  base_fps: PosInt.default(24),
  enable_fps_modulation: z.boolean().default(true),
  latent_channel: PosInt.default(48),
  unified_3d_mrope_reset_spatial_ids: z.boolean().default(true),
  unified_3d_mrope_temporal_modality_margin: z.number().int().nonnegative().default(15000),
  latent_patch_size: PosInt.default(2),
  num_attention_heads: PosInt.default(32),
  num_hidden_layers: PosInt.default(36),
  num_key_value_heads: PosInt.default(8),
  patch_latent_dim: PosInt.default(192),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_scaling: z.looseObject({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    mrope_section: z.array(z.number().int().nonnegative()).length(3).optional(),
    mrope_interleaved: z.boolean().optional(),
  }).nullish(),
  rope_theta: z.number().positive().default(5e6),
  action_dim: PosInt.nullish(),
  action_gen: z.boolean().default(false),
  num_embodiment_domains: PosInt.default(32),
  sound_dim: PosInt.nullish(),
  sound_gen: z.boolean().default(false),
  sound_latent_fps: z.number().positive().default(25),
  timestep_scale: z.number().positive().default(0.001),
  vocab_size: PosInt.default(151936),
  hidden_act: z.enum(["silu", "relu2"], { error: 'expected "silu" (Qwen) or "relu2" (Nemotron / Edge)' }).default(
    "silu",
  ),
  qk_norm_for_text: z.boolean().default(true),
  use_und_k_norm_for_gen: z.boolean().default(false),
  rope_axes_dim: z.array(z.number().int().nonnegative()).length(3).nullish(),
}).transform((c) => ({
  ...c,
  rope_axes_dim: (c.rope_axes_dim ?? c.rope_scaling?.mrope_section ?? [24, 20, 20]) as [number, number, number],
})).superRefine((c, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (c.patch_latent_dim !== c.latent_channel * c.latent_patch_size ** 2) {
    issue(
      "patch_latent_dim",
      `must equal latent_channel × latent_patch_size² = ${c.latent_channel * c.latent_patch_size ** 2}`,
    );
  }
  const axes = c.rope_axes_dim[0] + c.rope_axes_dim[1] + c.rope_axes_dim[2];
  if (axes * 2 !== c.head_dim) issue("rope_axes_dim", `must sum to head_dim / 2 = ${c.head_dim / 2}`);
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    issue("num_key_value_heads", `must divide num_attention_heads (${c.num_attention_heads})`);
  }
  if (c.action_gen && c.action_dim == null) issue("action_dim", "is required when action_gen is true");
  if (c.sound_gen && c.sound_dim == null) issue("sound_dim", "is required when sound_gen is true");
});
/** @see {@link Cosmos3TransformerConfigJson} */
export type Cosmos3TransformerConfigJson = z.infer<typeof Cosmos3TransformerConfigJson>;

/**
 * `vae/config.json`: `AutoencoderKLWan`'s arguments with its `__init__` defaults. Its 16-value
 * default latent statistics only fit `z_dim` 16, so another `z_dim` needs its own lists.
 *
 * @example
 * ```ts
 * import { WanVaeConfigJson } from "./cosmos3.ts";
 * WanVaeConfigJson.parse({ z_dim: 48, latents_mean: Array(48).fill(0), latents_std: Array(48).fill(1) }).base_dim; // 96
 * ```
 */
export const WanVaeConfigJson = z.looseObject({
  _class_name: z.literal("AutoencoderKLWan").optional(),
  base_dim: PosInt.default(96),
  decoder_base_dim: PosInt.nullish(),
  z_dim: PosInt.default(16),
  dim_mult: z.array(PosInt).min(1).default([1, 2, 4, 4]),
  num_res_blocks: PosInt.default(2),
  attn_scales: z.array(z.number()).default([]),
  temperal_downsample: z.array(z.boolean()).default([false, true, true]),
  dropout: z.number().nonnegative().default(0),
  latents_mean: z.array(z.number()).optional(),
  latents_std: z.array(z.number().positive()).optional(),
  is_residual: z.boolean().default(false),
  in_channels: PosInt.default(3),
  out_channels: PosInt.default(3),
  patch_size: PosInt.nullish(),
  scale_factor_temporal: PosInt.default(4),
  scale_factor_spatial: PosInt.default(8),
}).superRefine((c, ctx) => {
  for (const key of ["latents_mean", "latents_std"] as const) {
    const n = c[key]?.length ?? 16;
    if (n !== c.z_dim) ctx.addIssue({ code: "custom", path: [key], message: `must have z_dim = ${c.z_dim} values` });
  }
  if (c.temperal_downsample.length !== c.dim_mult.length - 1) {
    ctx.addIssue({
      code: "custom",
      path: ["temperal_downsample"],
      message: `must have len(dim_mult) - 1 = ${c.dim_mult.length - 1} entries`,
    });
  }
});
/** @see {@link WanVaeConfigJson} */
export type WanVaeConfigJson = z.infer<typeof WanVaeConfigJson>;

const SigmaFlags = {
  use_karras_sigmas: z.boolean().default(false),
  use_exponential_sigmas: z.boolean().default(false),
  use_beta_sigmas: z.boolean().default(false),
};

function oneSigmaSchedule(
  c: { use_karras_sigmas: boolean; use_exponential_sigmas: boolean; use_beta_sigmas: boolean },
  ctx: z.RefinementCtx,
): void {
  if (Number(c.use_karras_sigmas) + Number(c.use_exponential_sigmas) + Number(c.use_beta_sigmas) > 1) {
    ctx.addIssue({
      code: "custom",
      path: ["use_karras_sigmas"],
      message: "only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas may be true",
    });
  }
}

/**
 * `scheduler/scheduler_config.json`: `UniPCMultistepScheduler` (the converter saves it with Karras
 * flow sigmas) or, for distilled checkpoints, `FlowMatchEulerDiscreteScheduler`; `__init__` defaults.
 *
 * @example
 * ```ts
 * import { Cosmos3SchedulerConfigJson } from "./cosmos3.ts";
 * const s = Cosmos3SchedulerConfigJson.parse({
 *   _class_name: "UniPCMultistepScheduler", use_karras_sigmas: true, use_flow_sigmas: true,
 *   prediction_type: "flow_prediction", sigma_max: 200, sigma_min: 0.147,
 * });
 * s._class_name === "UniPCMultistepScheduler" && s.solver_type; // "bh2"
 * ```
 */
export const Cosmos3SchedulerConfigJson = z.discriminatedUnion("_class_name", [
  z.looseObject({
    _class_name: z.literal("UniPCMultistepScheduler"),
    num_train_timesteps: PosInt.default(1000),
    solver_order: z.number().int().min(1).max(3).default(2),
    prediction_type: z.enum(["epsilon", "sample", "v_prediction", "flow_prediction"]).default("epsilon"),
    predict_x0: z.boolean().default(true),
    solver_type: z.enum(["bh1", "bh2"]).default("bh2"),
    lower_order_final: z.boolean().default(true),
    disable_corrector: z.array(z.number().int().nonnegative()).default([]),
    ...SigmaFlags,
    use_flow_sigmas: z.boolean().default(false),
    flow_shift: z.number().positive().default(1),
    timestep_spacing: z.enum(["linspace", "leading", "trailing"]).default("linspace"),
    steps_offset: z.number().int().nonnegative().default(0),
    final_sigmas_type: z.enum(["zero", "sigma_min"]).default("zero"),
    sigma_min: z.number().positive().nullish(),
    sigma_max: z.number().positive().nullish(),
  }).superRefine(oneSigmaSchedule),
  z.looseObject({
    _class_name: z.literal("FlowMatchEulerDiscreteScheduler"),
    num_train_timesteps: PosInt.default(1000),
    shift: z.number().positive().default(1),
    use_dynamic_shifting: z.boolean().default(false),
    base_shift: z.number().nullish().default(0.5),
    max_shift: z.number().nullish().default(1.15),
    base_image_seq_len: PosInt.default(256),
    max_image_seq_len: PosInt.default(4096),
    invert_sigmas: z.boolean().default(false),
    shift_terminal: z.number().nullish(),
    ...SigmaFlags,
    time_shift_type: z.enum(["exponential", "linear"]).default("exponential"),
    stochastic_sampling: z.boolean().default(false),
    /** Distilled checkpoints: the schedule the weights were distilled on (cosmos-framework's converter writes it). */
    fixed_step_sampler_config: z.looseObject({
      t_list: z.array(z.number().min(0).max(1)).min(1),
      sample_type: z.enum(["sde", "ode"]),
    }).optional(),
    fixed_step_requires_explicit_sigmas: z.boolean().default(false),
  }).superRefine(oneSigmaSchedule),
], { error: "expected _class_name UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler" });
/** @see {@link Cosmos3SchedulerConfigJson} */
export type Cosmos3SchedulerConfigJson = z.infer<typeof Cosmos3SchedulerConfigJson>;

/**
 * `sound_tokenizer/config.json` (`Cosmos3AVAEAudioTokenizer`): the fields other parts depend on.
 * `hop_size` (waveform samples per latent frame) is the product of `dec_strides` when unset, as
 * `__init__` resolves it (`autoencoder_cosmos3_audio.py`: `math.prod(dec_strides)`).
 */
export const Cosmos3SoundTokenizerConfigJson = z.looseObject({
  sampling_rate: PosInt.default(48000),
  dec_strides: z.array(PosInt).min(1).default([2, 4, 5, 6, 8]),
  hop_size: PosInt.nullish(),
  stereo: z.boolean().default(true),
  vocoder_input_dim: PosInt.default(64),
}).transform((c) => ({ ...c, hop_size: c.hop_size ?? c.dec_strides.reduce((a, b) => a * b, 1) }));
/** @see {@link Cosmos3SoundTokenizerConfigJson} */
export type Cosmos3SoundTokenizerConfigJson = z.infer<typeof Cosmos3SoundTokenizerConfigJson>;

/** A component folder with weights: its validated config and safetensors files (shard order). */
export interface WeightedComponent<C> {
  dir: string;
  config: C;
  safetensors: string[];
}

/**
 * How a distilled few-step checkpoint samples (diffusers' `Cosmos3DistilledModularPipeline`): FlowMatchEuler
 * on these fixed sigmas (one step each), shifted by the scheduler's `shift`, re-noising every step when
 * `stochastic` (the SDE sampler), classifier-free guidance baked into the weights (scale 1), the conditioned
 * latent frames re-anchored after every step.
 */
export interface Cosmos3DistilledSchedule {
  /** `distilled_sigmas` of modular_model_index.json (else the scheduler's `fixed_step_sampler_config.t_list`). */
  sigmas: number[];
  /** scheduler_config.json `shift` (the converter writes 1). */
  shift: number;
  /** scheduler_config.json `stochastic_sampling` (the converter's `sample_type: "sde"`). */
  stochastic: boolean;
}

/**
 * The distilled schedule of a checkpoint, or undefined for a base one. Distilled: `modular_model_index.json`
 * names `Cosmos3DistilledModularPipeline` (its `distilled_sigmas`, as diffusers reads them), or, without the
 * modular index, the scheduler carries the converter's `fixed_step_sampler_config` (its `t_list`, which
 * vLLM-Omni reads).
 * @throws {CheckpointError} when a distilled checkpoint's scheduler is not FlowMatchEulerDiscreteScheduler
 * (`where` names the scheduler config file).
 *
 * @example
 * ```ts
 * import { cosmos3DistilledSchedule, Cosmos3SchedulerConfigJson } from "./cosmos3.ts";
 * const scheduler = Cosmos3SchedulerConfigJson.parse({
 *   _class_name: "FlowMatchEulerDiscreteScheduler", stochastic_sampling: true,
 *   fixed_step_sampler_config: { t_list: [0.999, 0.75, 0.5, 0.25], sample_type: "sde" },
 * });
 * cosmos3DistilledSchedule(undefined, scheduler, "scheduler_config.json")?.sigmas; // [0.999, 0.75, 0.5, 0.25]
 * ```
 */
export function cosmos3DistilledSchedule(
  modular: Cosmos3ModularModelIndexJson | undefined,
  scheduler: Cosmos3SchedulerConfigJson,
  where: string,
): Cosmos3DistilledSchedule | undefined {
  const euler = scheduler._class_name === "FlowMatchEulerDiscreteScheduler" ? scheduler : undefined;
  const sigmas = modular
    ? (modular._class_name === "Cosmos3DistilledModularPipeline" ? modular.distilled_sigmas ?? undefined : undefined)
    : euler?.fixed_step_sampler_config?.t_list;
  if (!sigmas) return undefined;
  if (!euler) {
    throw new CheckpointError(
      `${where}: _class_name is ${scheduler._class_name}, but this distilled checkpoint (modular_model_index.json Cosmos3DistilledModularPipeline) steps with FlowMatchEulerDiscreteScheduler.`,
      { hint: "scheduler/ belongs to another checkpoint; download the distilled checkpoint's scheduler/ again." },
    );
  }
  return { sigmas: [...sigmas], shift: euler.shift, stochastic: euler.stochastic_sampling };
}

/** What {@link loadCosmos3Checkpoint} returns. */
export interface Cosmos3Checkpoint extends ResolvedCheckpoint {
  layout: "cosmos3-diffusers";
  /** model_index.json; for a checkpoint with only modular_model_index.json, its components and flags. */
  modelIndex: Cosmos3ModelIndexJson;
  /** modular_model_index.json, when the checkpoint has one (NVIDIA's converter writes it beside model_index.json). */
  modularIndex?: Cosmos3ModularModelIndexJson;
  /** Set for a distilled few-step checkpoint (see {@link cosmos3DistilledSchedule}). */
  distilled?: Cosmos3DistilledSchedule;
  transformer: WeightedComponent<Cosmos3TransformerConfigJson>;
  vae: { dir: string; config: WanVaeConfigJson };
  scheduler: { dir: string; config: Cosmos3SchedulerConfigJson };
  textTokenizer: { dir: string };
  soundTokenizer?: { dir: string; config: Cosmos3SoundTokenizerConfigJson };
  /** The Qwen3-VL vision tower sidecar (absent: the checkpoint can only reason over text). */
  visionEncoder?: WeightedComponent<Qwen3VLVisionConfigJson>;
}

/** Which kind of checkpoint a folder holds (see {@link checkpointLayout}). */
export type CheckpointLayout = "cosmos3-diffusers" | "qwen3-vl-transformers";

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * The layout of the checkpoint folder `dir`: `"cosmos3-diffusers"` when it has `model_index.json`
 * (or a `transformer/` folder), `"qwen3-vl-transformers"` when it has a `config.json` (a Qwen3-VL /
 * Cosmos Reason checkpoint).
 * @throws {CheckpointError} when it is neither.
 *
 * @example
 * ```ts
 * import { checkpointLayout } from "./cosmos3.ts";
 * await checkpointLayout("test/fixtures/qwen3vl-tiny"); // "qwen3-vl-transformers"
 * await checkpointLayout("test/fixtures/cosmos3-reasoner-tiny"); // "cosmos3-diffusers"
 * ```
 */
export async function checkpointLayout(dir: string): Promise<CheckpointLayout> {
  if (
    await isFile(join(dir, "model_index.json")) || await isFile(join(dir, "modular_model_index.json")) ||
    await isDir(join(dir, "transformer"))
  ) return "cosmos3-diffusers";
  if (await isFile(join(dir, "config.json"))) return "qwen3-vl-transformers";
  throw new CheckpointError(
    `${dir} is neither a Cosmos 3 checkpoint (no model_index.json) nor a Qwen3-VL checkpoint (no config.json).`,
    {
      hint:
        "Point to the checkpoint's root folder: a Cosmos 3 download (model_index.json, transformer/, vision_encoder/, ...) or a Qwen3-VL one (config.json, *.safetensors).",
    },
  );
}

/**
 * The safetensors files of a component folder: `<stem>.safetensors`, else the shards that
 * `<stem>.safetensors.index.json` lists (all must exist).
 */
async function componentWeights(dir: string, stem: string, what: string): Promise<string[]> {
  const single = join(dir, `${stem}.safetensors`);
  if (await isFile(single)) return [single];
  const indexPath = join(dir, `${stem}.safetensors.index.json`);
  if (await isFile(indexPath)) {
    const index = parseJsonValue(indexPath, await readJsonFile(indexPath), SafetensorsIndexJson);
    const shards = [...new Set(Object.values(index.weight_map))].sort().map((s) => join(dir, s));
    const missing: string[] = [];
    for (const p of shards) if (!(await isFile(p))) missing.push(p);
    if (missing.length) {
      throw new CheckpointError(
        `${indexPath}: weight_map names ${missing.length} shard(s) that are missing: ${missing.join(", ")}.`,
        { hint: `The download of ${what} is incomplete; download the checkpoint again (hf download <repo>).` },
      );
    }
    return shards;
  }
  throw new CheckpointError(
    `${what} has no weights: ${dir} has neither ${stem}.safetensors nor ${stem}.safetensors.index.json.`,
    { hint: `Download the full checkpoint including ${what}'s *.safetensors, not only its configs.` },
  );
}

async function requiredDir(root: string, name: string, what: string, index = "model_index.json"): Promise<string> {
  const dir = join(root, name);
  if (!(await isDir(dir))) {
    throw new CheckpointError(`${root} has no ${name}/ folder (${what}), which ${index} lists.`, {
      hint: `Download the whole Cosmos 3 checkpoint (hf download <repo>), including ${name}/.`,
    });
  }
  return dir;
}

/**
 * model_index.json's view of a checkpoint that has only modular_model_index.json: the same components
 * (`[library, class]`) and behaviour flags.
 */
function modelIndexFromModular(m: Cosmos3ModularModelIndexJson): Cosmos3ModelIndexJson {
  const entry = (e: readonly unknown[] | undefined) => (e ? [e[0] ?? null, e[1] ?? null] : undefined);
  return Cosmos3ModelIndexJson.parse({
    _class_name: "Cosmos3OmniPipeline",
    _diffusers_version: m._diffusers_version,
    enable_safety_checker: m.enable_safety_checker,
    default_use_system_prompt: m.default_use_system_prompt,
    use_native_flow_schedule: m.use_native_flow_schedule,
    transformer: entry(m.transformer),
    vae: entry(m.vae),
    scheduler: entry(m.scheduler),
    text_tokenizer: entry(m.text_tokenizer),
    sound_tokenizer: entry(m.sound_tokenizer),
    safety_checker: entry(m.safety_checker),
  });
}

async function componentConfig<S extends z.ZodType>(dir: string, file: string, schema: S): Promise<z.infer<S>> {
  const path = join(dir, file);
  if (!(await isFile(path))) {
    throw new CheckpointError(`${path} is missing.`, {
      hint: "Download the whole checkpoint again: every component folder has its config file.",
    });
  }
  return parseJsonValue(path, await readJsonFile(path), schema);
}

/**
 * The VAE's latents are the transformer's: `z_dim` must equal `latent_channel`.
 * @throws {CheckpointError} naming both fields (`vaeConfigPath` says which file).
 */
export function checkVaeFitsTransformer(
  vae: Pick<WanVaeConfigJson, "z_dim">,
  transformer: Pick<Cosmos3TransformerConfigJson, "latent_channel">,
  vaeConfigPath: string,
): void {
  if (vae.z_dim === transformer.latent_channel) return;
  throw new CheckpointError(
    `${vaeConfigPath}: z_dim ${vae.z_dim} differs from transformer/config.json latent_channel ${transformer.latent_channel}.`,
    { hint: "vae/ and transformer/ come from different models; download the checkpoint again." },
  );
}

/**
 * Resolves `idOrPath` (a folder or a cached Hugging Face repo id, as {@link resolveCheckpoint})
 * and reads a Cosmos 3 diffusers-layout checkpoint: `model_index.json` and/or
 * `modular_model_index.json` (a distilled few-step checkpoint's fixed schedule: `distilled`), each
 * listed component's config (validated) and weight files, and the optional `vision_encoder/` sidecar. Weights are
 * not read. Cross-component rules: the VAE's `z_dim` equals the transformer's `latent_channel`;
 * with `sound_gen`, the sound tokenizer's `vocoder_input_dim` equals `sound_dim`.
 * @throws {CheckpointError} naming the missing part or the bad field, and what to do.
 *
 * @example
 * ```ts
 * import { loadCosmos3Checkpoint } from "./cosmos3.ts";
 * const ck = await loadCosmos3Checkpoint("test/fixtures/cosmos3-reasoner-tiny");
 * ck.visionEncoder?.config.depth; // 2
 * ```
 */
export async function loadCosmos3Checkpoint(
  idOrPath: string,
  options: ResolveOptions = {},
): Promise<Cosmos3Checkpoint> {
  const resolved = await resolveCheckpoint(idOrPath, options);
  const root = resolved.dir;
  const indexPath = join(root, "model_index.json");
  const modularPath = join(root, "modular_model_index.json");
  const hasIndex = await isFile(indexPath), hasModular = await isFile(modularPath);
  if (!hasIndex && !hasModular) {
    throw new CheckpointError(
      `${root} has no model_index.json (nor modular_model_index.json), so it is not a Cosmos 3 diffusers checkpoint.`,
      {
        hint: "Download the whole checkpoint (model_index.json lists its components), or point to a Qwen3-VL folder.",
      },
    );
  }
  const modularIndex = hasModular
    ? parseJsonValue(modularPath, await readJsonFile(modularPath), Cosmos3ModularModelIndexJson)
    : undefined;
  const modelIndex = hasIndex
    ? parseJsonValue(indexPath, await readJsonFile(indexPath), Cosmos3ModelIndexJson)
    : modelIndexFromModular(modularIndex!);
  const listedIn = hasIndex ? "model_index.json" : "modular_model_index.json";
  if (modularIndex && hasIndex && modularIndex.scheduler[1] !== modelIndex.scheduler[1]) {
    throw new CheckpointError(
      `${modularPath}: scheduler is ${modularIndex.scheduler[1]} but model_index.json says ${modelIndex.scheduler[1]}.`,
      { hint: "The two index files come from different checkpoints; download the checkpoint again." },
    );
  }

  const transformerDir = await requiredDir(root, "transformer", "the Cosmos3OmniTransformer", listedIn);
  const transformerConfig = await componentConfig(transformerDir, "config.json", Cosmos3TransformerConfigJson);
  const transformer = {
    dir: transformerDir,
    config: transformerConfig,
    safetensors: await componentWeights(transformerDir, "diffusion_pytorch_model", "transformer/"),
  };
  const vaeDir = await requiredDir(root, "vae", "the AutoencoderKLWan video tokenizer", listedIn);
  const vae = { dir: vaeDir, config: await componentConfig(vaeDir, "config.json", WanVaeConfigJson) };
  checkVaeFitsTransformer(vae.config, transformerConfig, join(vaeDir, "config.json"));
  const schedulerDir = await requiredDir(root, "scheduler", "the sampler's schedule", listedIn);
  const scheduler = {
    dir: schedulerDir,
    config: await componentConfig(schedulerDir, "scheduler_config.json", Cosmos3SchedulerConfigJson),
  };
  const distilled = cosmos3DistilledSchedule(
    modularIndex,
    scheduler.config,
    join(schedulerDir, "scheduler_config.json"),
  );
  const textTokenizerDir = await requiredDir(root, "text_tokenizer", "the Qwen3-VL tokenizer", listedIn);
  if (!(await isFile(join(textTokenizerDir, "tokenizer.json")))) {
    throw new CheckpointError(`${textTokenizerDir} has no tokenizer.json.`, {
      hint: "Download the checkpoint's text_tokenizer/ files too (tokenizer.json, tokenizer_config.json).",
    });
  }

  let soundTokenizer: Cosmos3Checkpoint["soundTokenizer"];
  const soundEntry = modelIndex.sound_tokenizer;
  if (soundEntry && soundEntry[1] !== null) {
    const dir = await requiredDir(root, "sound_tokenizer", "the Cosmos3AVAEAudioTokenizer", listedIn);
    soundTokenizer = { dir, config: await componentConfig(dir, "config.json", Cosmos3SoundTokenizerConfigJson) };
    if (transformerConfig.sound_gen && soundTokenizer.config.vocoder_input_dim !== transformerConfig.sound_dim) {
      throw new CheckpointError(
        `${
          join(dir, "config.json")
        }: vocoder_input_dim ${soundTokenizer.config.vocoder_input_dim} differs from transformer/config.json sound_dim ${transformerConfig.sound_dim}.`,
        { hint: "sound_tokenizer/ and transformer/ come from different models; download the checkpoint again." },
      );
    }
  }

  let visionEncoder: Cosmos3Checkpoint["visionEncoder"];
  const visionDir = join(root, "vision_encoder");
  if (await isDir(visionDir)) {
    visionEncoder = {
      dir: visionDir,
      config: await componentConfig(visionDir, "config.json", VisionConfigSchema),
      safetensors: await componentWeights(visionDir, "model", "vision_encoder/"),
    };
  }
  return {
    ...resolved,
    layout: "cosmos3-diffusers",
    modelIndex,
    modularIndex,
    distilled,
    transformer,
    vae,
    scheduler,
    textTokenizer: { dir: textTokenizerDir },
    soundTokenizer,
    visionEncoder,
  };
}

// ------------------------------------------------------------------------- the Reasoner's view

/** Safetensors files whose tensors the native loader reads under other names. */
export interface RenamedWeights {
  files: string[];
  /** Stored name → the Qwen3-VL name the engine asks for; tensors not listed are not read. */
  renames: Record<string, string>;
}

// Keys of the generation tower and of the sound / action heads (the und tower never reads them).
const GENERATION_KEYS = [
  /_moe_gen/,
  /\.self_attn\.(add_[qkv]_proj|to_add_out|norm_added_[qk]|k_norm_und_for_gen)\./,
  /^(proj_in|proj_out|time_embedder|audio_proj_in|audio_proj_out|action_proj_in|action_proj_out)\./,
  /^(audio_modality_embed|action_modality_embed)$/,
];

// The und tower's attention under diffusers names → Qwen3-VL names (the converter renamed them the other way).
const UND_ATTENTION: [string, string][] = [
  [".self_attn.to_q.", ".self_attn.q_proj."],
  [".self_attn.to_k.", ".self_attn.k_proj."],
  [".self_attn.to_v.", ".self_attn.v_proj."],
  [".self_attn.to_out.", ".self_attn.o_proj."],
  [".self_attn.norm_q.", ".self_attn.q_norm."],
  [".self_attn.norm_k.", ".self_attn.k_norm."],
];

/**
 * The Qwen3-VL name of a Cosmos 3 transformer tensor, or `undefined` for a generation-tower (or
 * sound / action) tensor, which the Reasoner does not read. The flat diffusers text keys
 * (`embed_tokens.`, `layers.`, `norm.`) move under `model.language_model.`; `lm_head.` stays. The
 * nested spellings other exports use (`model.layers.`, `language_model.model.layers.`,
 * `model.lm_head.`, already-Qwen `model.language_model.`) map to the same names, as the Reasoner
 * plugins of cosmos-framework (transformers-cosmos3 / vllm-cosmos3) map them.
 *
 * @example
 * ```ts
 * import { cosmos3UndTensorName } from "./cosmos3.ts";
 * cosmos3UndTensorName("layers.0.self_attn.to_q.weight"); // "model.language_model.layers.0.self_attn.q_proj.weight"
 * cosmos3UndTensorName("layers.0.self_attn.add_q_proj.weight"); // undefined
 * cosmos3UndTensorName("lm_head.weight"); // "lm_head.weight"
 * ```
 */
export function cosmos3UndTensorName(stored: string): string | undefined {
  if (GENERATION_KEYS.some((re) => re.test(stored))) return undefined;
  const head = /^(?:model\.|language_model\.)?lm_head\.(.+)$/.exec(stored);
  if (head) return `lm_head.${head[1]}`;
  const body =
    /^(?:model\.language_model\.|language_model\.model\.|model\.|language_model\.)?((?:embed_tokens|layers|norm)\..+)$/
      .exec(stored);
  if (!body) return undefined;
  let name = body[1];
  for (const [from, to] of UND_ATTENTION) {
    if (name.includes(from)) {
      name = name.replace(from, to);
      break;
    }
  }
  return `model.language_model.${name}`;
}

/**
 * The Qwen3-VL name of a vision sidecar tensor: `Qwen3VLVisionModel` saves its keys bare
 * (`blocks.0.attn.qkv.weight`); the engine reads them as `model.visual.*`.
 *
 * @example
 * ```ts
 * import { cosmos3VisionTensorName } from "./cosmos3.ts";
 * cosmos3VisionTensorName("blocks.0.attn.qkv.weight"); // "model.visual.blocks.0.attn.qkv.weight"
 * ```
 */
export function cosmos3VisionTensorName(stored: string): string {
  if (stored.startsWith("model.visual.")) return stored;
  if (stored.startsWith("visual.")) return `model.${stored}`;
  return `model.visual.${stored}`;
}

async function renamedWeights(files: string[], rename: (n: string) => string | undefined): Promise<RenamedWeights> {
  const renames: Record<string, string> = {};
  for (const file of files) {
    for (const stored of Object.keys((await readSafetensorsHeader(file)).tensors)) {
      const name = rename(stored);
      if (name !== undefined) renames[stored] = name;
    }
  }
  return { files, renames };
}

/** The Reasoner (Qwen3-VL) view of a Cosmos 3 checkpoint: see {@link cosmos3Reasoner}. */
export interface Cosmos3Reasoner {
  config: Qwen3VLConfig;
  /** The und tower's tensors in transformer/ under Qwen3-VL names. */
  text: RenamedWeights;
  /** The vision tower's tensors in vision_encoder/ under Qwen3-VL names (absent without the sidecar). */
  vision?: RenamedWeights;
  /** Where tokenizer.json and the chat template are. */
  tokenizerDir: string;
}

const AddedTokens = z.looseObject({
  added_tokens: z.array(z.looseObject({ id: z.number().int().nonnegative(), content: z.string() })).default([]),
});

// The Qwen3-VL special tokens the prompt builder needs, by name (their ids differ between vocabularies).
const VISION_TOKENS = {
  imageTokenId: "<|image_pad|>",
  videoTokenId: "<|video_pad|>",
  visionStartTokenId: "<|vision_start|>",
  visionEndTokenId: "<|vision_end|>",
} as const;

async function visionTokenIds(tokenizerDir: string): Promise<Qwen3VLConfig["tokens"]> {
  const path = join(tokenizerDir, "tokenizer.json");
  const ids = new Map(
    parseJsonValue(path, await readJsonFile(path), AddedTokens).added_tokens.map((t) => [t.content, t.id]),
  );
  const out = {} as Record<keyof typeof VISION_TOKENS, number>;
  for (const [key, token] of Object.entries(VISION_TOKENS) as [keyof typeof VISION_TOKENS, string][]) {
    const id = ids.get(token);
    if (id === undefined) {
      throw new CheckpointError(`${path} has no ${token} token, so images and videos cannot be placed in a prompt.`, {
        hint: "text_tokenizer/ must be the Qwen3-VL tokenizer the checkpoint came with; download it again.",
      });
    }
    out[key] = id;
  }
  return out;
}

/** The root config.json's text / vision sections, when the root has one (model_type cosmos3_omni or qwen3_vl). */
async function rootQwenConfig(root: string): Promise<Qwen3VLConfig | undefined> {
  const path = join(root, "config.json");
  const json = await readJsonFile(path, true);
  if (json === undefined) return undefined;
  const type = (json as { model_type?: unknown } | null)?.model_type;
  if (type !== "cosmos3_omni" && type !== "qwen3_vl") return undefined;
  // cosmos3_omni is a Qwen3VLConfig subclass (cosmos-framework's transformers-cosmos3): same keys.
  return parseQwen3VLConfig({ ...(json as object), model_type: "qwen3_vl" }, path);
}

/**
 * The text config a Cosmos 3 transformer's und tower has, in Qwen3-VL `text_config` keys. The
 * und tower is a Qwen3 decoder with interleaved mRoPE (`Cosmos3VLTextRotaryEmbedding` always
 * interleaves) and a separate `lm_head`.
 * @throws {CheckpointError} for a tower the Qwen3-VL engine cannot run (Edge's relu2 / no q-k norm).
 */
function undTextConfig(t: Cosmos3TransformerConfigJson, where: string): Record<string, unknown> {
  if (t.hidden_act !== "silu" || !t.qk_norm_for_text) {
    throw new CheckpointError(
      `${where}: hidden_act "${t.hidden_act}"${
        t.qk_norm_for_text ? "" : " without qk_norm_for_text"
      } is a Nemotron (Edge) und tower; the native Reasoner runs the Qwen3 one (silu, q/k norm).`,
      { hint: "Use Cosmos3-Nano or Cosmos3-Super for reason() on the native engine, or a remote backend for Edge." },
    );
  }
  return {
    vocab_size: t.vocab_size,
    hidden_size: t.hidden_size,
    intermediate_size: t.intermediate_size,
    num_hidden_layers: t.num_hidden_layers,
    num_attention_heads: t.num_attention_heads,
    num_key_value_heads: t.num_key_value_heads,
    head_dim: t.head_dim,
    rms_norm_eps: t.rms_norm_eps,
    hidden_act: t.hidden_act,
    attention_bias: t.attention_bias,
    tie_word_embeddings: false,
    rope_parameters: {
      rope_type: t.rope_scaling?.rope_type ?? t.rope_scaling?.type ?? "default",
      rope_theta: t.rope_theta,
      mrope_section: t.rope_axes_dim,
      mrope_interleaved: true,
    },
  };
}

/**
 * What the native Qwen3-VL engine needs to run a Cosmos 3 checkpoint's Reasoner: the Qwen3-VL
 * config, the und tower's and the vision tower's weight files with their rename maps, and the
 * tokenizer folder. The config comes from a root `config.json` when there is one (the Reasoner
 * plugins' `cosmos3_omni`; it must agree with transformer/config.json), else it is assembled from
 * transformer/config.json, vision_encoder/config.json and the tokenizer's special tokens. The
 * tokenizer and chat template come from the root when it has tokenizer.json, else text_tokenizer/.
 * @throws {CheckpointError} for an Edge transformer, a missing vision sidecar (`vision: undefined`
 * is allowed only when `requireVision` is false), or a root config that contradicts transformer/.
 *
 * @example
 * ```ts
 * import { cosmos3Reasoner, loadCosmos3Checkpoint } from "./cosmos3.ts";
 * const r = await cosmos3Reasoner(await loadCosmos3Checkpoint("test/fixtures/cosmos3-reasoner-tiny"));
 * r.text.renames["layers.0.self_attn.to_q.weight"]; // "model.language_model.layers.0.self_attn.q_proj.weight"
 * r.config.tokens.imageTokenId; // 1412
 * ```
 */
export async function cosmos3Reasoner(ck: Cosmos3Checkpoint, requireVision = false): Promise<Cosmos3Reasoner> {
  const transformerConfigPath = join(ck.transformer.dir, "config.json");
  const text = undTextConfig(ck.transformer.config, transformerConfigPath);
  const tokenizerDir = await isFile(join(ck.dir, "tokenizer.json")) ? ck.dir : ck.textTokenizer.dir;
  let config = await rootQwenConfig(ck.dir);
  if (config) {
    const t = config.text;
    const mine: [string, number, number][] = [
      ["hidden_size", t.hiddenSize, ck.transformer.config.hidden_size],
      ["num_hidden_layers", t.numLayers, ck.transformer.config.num_hidden_layers],
      ["num_attention_heads", t.numHeads, ck.transformer.config.num_attention_heads],
      ["num_key_value_heads", t.numKvHeads, ck.transformer.config.num_key_value_heads],
      ["vocab_size", t.vocabSize, ck.transformer.config.vocab_size],
    ];
    const off = mine.filter(([, a, b]) => a !== b);
    if (off.length) {
      throw new CheckpointError(
        `${join(ck.dir, "config.json")} text_config contradicts ${transformerConfigPath}: ${
          off.map(([k, a, b]) => `${k} ${a} vs ${b}`).join(", ")
        }.`,
        { hint: "The root config.json belongs to another model; download the checkpoint again." },
      );
    }
  } else {
    if (!ck.visionEncoder) {
      throw new CheckpointError(
        `${ck.dir} has no vision_encoder/ (the Qwen3-VL vision tower) and no root config.json, so the Reasoner has no vision config.`,
        {
          hint:
            "Download the checkpoint's vision_encoder/ folder (the Reasoner's image and video input needs it; NVIDIA's converter writes it unless --skip-vision-encoder).",
        },
      );
    }
    const tokens = await visionTokenIds(tokenizerDir);
    const json = {
      model_type: "qwen3_vl",
      text_config: text,
      vision_config: ck.visionEncoder.config,
      image_token_id: tokens.imageTokenId,
      video_token_id: tokens.videoTokenId,
      vision_start_token_id: tokens.visionStartTokenId,
      vision_end_token_id: tokens.visionEndTokenId,
    };
    config = parseQwen3VLConfig(json, transformerConfigPath);
  }
  if (ck.visionEncoder && ck.visionEncoder.config.out_hidden_size !== ck.transformer.config.hidden_size) {
    throw new CheckpointError(
      `${
        join(ck.visionEncoder.dir, "config.json")
      }: out_hidden_size ${ck.visionEncoder.config.out_hidden_size} differs from transformer/config.json hidden_size ${ck.transformer.config.hidden_size}.`,
      { hint: "vision_encoder/ belongs to another model; download the checkpoint again." },
    );
  }
  if (requireVision && !ck.visionEncoder) {
    throw new CheckpointError(`${ck.dir} has no vision_encoder/ folder (the Qwen3-VL vision tower).`, {
      hint: "Download the checkpoint's vision_encoder/ folder; images and videos need it.",
    });
  }
  return {
    config,
    text: await renamedWeights(ck.transformer.safetensors, cosmos3UndTensorName),
    vision: ck.visionEncoder ? await renamedWeights(ck.visionEncoder.safetensors, cosmos3VisionTensorName) : undefined,
    tokenizerDir,
  };
}
