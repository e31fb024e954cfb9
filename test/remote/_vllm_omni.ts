/**
 * The request rules of vLLM-Omni's Cosmos 3 routes, modelled on its own source so that the
 * test server rejects what the real one rejects (with the real status) and records what it
 * would silently drop. Every rule cites the upstream file:line at vraiti/vllm-omni
 * `d6240742` (vLLM-Omni main with the Cosmos 3 PRs), paths under `vllm_omni/`:
 *
 * - `entrypoints/openai/api_server.py` (routes, form parsing, failure codes);
 * - `entrypoints/openai/protocol/videos.py`, `protocol/images.py` (pydantic models);
 * - `entrypoints/openai/serving_video.py` (form → sampling params);
 * - `diffusion/models/cosmos3/{pipeline_cosmos3,action,utils}.py` (the pipeline's checks);
 * - `model_extras/cosmos3.py` (the `extra_params` keys the pipeline reads).
 *
 * Error bodies are vLLM's: its `build_app` turns an `HTTPException` and a
 * `RequestValidationError` into `{"error": {message, type, param, code}}` (the latter as 400),
 * and `create_error_response` maps an `EngineGenerateError` to 500 InternalServerError.
 */
import { Buffer } from "node:buffer";

/** A request the real server would refuse: the HTTP status and its message. */
export class Refusal extends Error {
  constructor(readonly status: number, message: string, readonly plain = false) {
    super(message);
  }
}

/** vLLM's `ErrorResponse` body for a status and message. */
export function errorBody(
  status: number,
  message: string,
): { error: { message: string; type: string; param: null; code: number } } {
  const phrase: Record<number, string> = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  const type = status === 500 ? "InternalServerError" : phrase[status] ?? "Error";
  return { error: { message, type, param: null, code: status } };
}

/** The form fields `_parse_video_form` declares (api_server.py:2938-2968); FastAPI ignores any other. */
const VIDEO_FORM_INT = [
  "width",
  "height",
  "num_frames",
  "fps",
  "num_inference_steps",
  "seed",
  "frame_interpolation_exp",
];
const VIDEO_FORM_FLOAT = [
  "guidance_scale",
  "guidance_scale_2",
  "boundary_ratio",
  "flow_shift",
  "true_cfg_scale",
  "sound_duration",
  "frame_interpolation_scale",
];
const VIDEO_FORM_BOOL = ["generate_sound", "enable_frame_interpolation"];
const VIDEO_FORM_STR = [
  "prompt",
  "image_reference",
  "video_reference",
  "audio_reference",
  "model",
  "seconds",
  "size",
  "user",
  "negative_prompt",
  "frame_interpolation_model_path",
  "lora",
  "extra_params",
];
export const VIDEO_FORM_FIELDS = new Set([
  ...VIDEO_FORM_INT,
  ...VIDEO_FORM_FLOAT,
  ...VIDEO_FORM_BOOL,
  ...VIDEO_FORM_STR,
  "input_reference",
]);

/** `ImageGenerationRequest`'s fields (protocol/images.py:33-140); pydantic ignores any other. */
export const IMAGE_FIELDS = new Set([
  "prompt",
  "bot_task",
  "model",
  "n",
  "size",
  "response_format",
  "user",
  "layers",
  "negative_prompt",
  "system_prompt",
  "use_system_prompt",
  "num_inference_steps",
  "guidance_scale",
  "true_cfg_scale",
  "flow_shift",
  "extra_params",
  "seed",
  "generator_device",
  "lora",
  "output_format",
]);

/**
 * The `extra_params` keys the Cosmos 3 pipeline reads (model_extras/cosmos3.py:32-67, plus
 * `guidance_interval` read at pipeline_cosmos3.py:3345 and `video_codec_options` read by
 * serving_video.py:329-331). The rest is merged into `extra_args` (serving_video.py:196-203,
 * api_server.py:1859) and never looked at: recorded as dropped.
 */
export const COSMOS3_EXTRA_PARAMS = new Set([
  "flow_shift",
  "max_sequence_length",
  "use_resolution_template",
  "use_duration_template",
  "use_system_prompt",
  "system_prompt",
  "negative_prompt",
  "guardrails",
  "condition_frame_indexes_vision",
  "condition_video_keep",
  "generate_sound",
  "sound_gen",
  "sound_duration",
  "audio_duration",
  "action_mode",
  "action",
  "domain_name",
  "domain_id",
  "raw_action_dim",
  "action_chunk_size",
  "action_space",
  "action_fps",
  "image_height",
  "image_width",
  "history_length",
  "conditioning_fps",
  "resolution",
  "image_size",
  "use_state",
  "observation",
  "robot_obs",
  "deterministic_seed",
  "session_id",
  "guidance_interval",
  "video_codec_options",
]);

/** `EMBODIMENT_TO_DOMAIN_ID` (cosmos3/action.py:28-46). */
export const DOMAIN_IDS: Record<string, number> = {
  no_action: 0,
  av: 1,
  camera_pose: 2,
  hand_pose: 3,
  pusht: 4,
  libero: 5,
  umi: 6,
  bridge_orig_lerobot: 7,
  droid_lerobot: 8,
  "robomind-franka": 8,
  galbot: 9,
  "robomind-franka-dual": 12,
  "robomind-ur": 13,
  agibotworld: 15,
  agibot_gear_gripper: 15,
  agibot_gear_gripper_ext: 15,
  fractal: 20,
};

/** A validated video form: the request as `VideoGenerationRequest` would hold it. */
export interface VideoForm {
  prompt: string;
  model?: string;
  size?: { width: number; height: number };
  ints: Record<string, number>;
  floats: Record<string, number>;
  bools: Record<string, boolean>;
  negativePrompt?: string;
  extra: Record<string, unknown>;
  /** The `input_reference` file, if any. */
  file?: { data: Uint8Array; kind: "image" | "video" };
}

/** pydantic's lax bool parsing of a form string. */
function formBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (["1", "true", "t", "yes", "y", "on"].includes(s)) return true;
  if (["0", "false", "f", "no", "n", "off"].includes(s)) return false;
  return undefined;
}

/** What an `input_reference` upload decodes as (api_server.py:3065-3074 → `decode_input_reference`). */
export function sniffMedia(data: Uint8Array): "image" | "video" | undefined {
  const b = Buffer.from(data.subarray(0, 16));
  if (b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image";
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image";
  if (b.subarray(0, 4).toString("latin1") === "RIFF" && b.subarray(8, 12).toString("latin1") === "WEBP") return "image";
  if (b.subarray(4, 8).toString("latin1") === "ftyp") return "video";
  return undefined;
}

/**
 * Parses and validates a `POST /v1/videos[/sync]` form as `_parse_video_form` does
 * (api_server.py:2938-3087) and `VideoGenerationRequest` (protocol/videos.py:97-229).
 * @param dropped receives the names of what FastAPI would silently ignore.
 */
export function parseVideoForm(
  parts: { name: string; filename?: string; text: string; data: Uint8Array }[],
  servedModel: string,
  dropped: string[],
): VideoForm {
  const seen = new Map<string, { text: string; data: Uint8Array; filename?: string }>();
  for (const p of parts) {
    if (!VIDEO_FORM_FIELDS.has(p.name)) dropped.push(`form:${p.name}`);
    else if (seen.has(p.name)) dropped.push(`form:${p.name} (repeated; one value is kept)`);
    seen.set(p.name, p);
  }
  const text = (k: string) => seen.get(k)?.text;
  // Form-level types: a RequestValidationError, which vLLM's build_app answers with 400.
  const prompt = text("prompt");
  if (prompt === undefined) {
    throw new Refusal(400, "[{'type': 'missing', 'loc': ('body', 'prompt'), 'msg': 'Field required'}]");
  }
  const ints: Record<string, number> = {};
  for (const k of VIDEO_FORM_INT) {
    const v = text(k);
    if (v === undefined) continue;
    if (!/^[+-]?\d+$/.test(v.trim())) {
      throw new Refusal(
        400,
        `[{'type': 'int_parsing', 'loc': ('body', '${k}'), 'msg': 'Input should be a valid integer'}]`,
      );
    }
    ints[k] = Number(v);
  }
  const floats: Record<string, number> = {};
  for (const k of VIDEO_FORM_FLOAT) {
    const v = text(k);
    if (v === undefined) continue;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) {
      throw new Refusal(
        400,
        `[{'type': 'float_parsing', 'loc': ('body', '${k}'), 'msg': 'Input should be a valid number'}]`,
      );
    }
    floats[k] = n;
  }
  for (const k of ["sound_duration", "frame_interpolation_scale"]) {
    if (floats[k] !== undefined && !(floats[k] > 0)) throw new Refusal(400, `${k}: Input should be greater than 0`); // :2961, :2965 gt=0.0
  }
  if (ints.frame_interpolation_exp !== undefined && ints.frame_interpolation_exp < 1) {
    throw new Refusal(400, "frame_interpolation_exp: Input should be greater than or equal to 1"); // :2964
  }
  const bools: Record<string, boolean> = {};
  for (const k of VIDEO_FORM_BOOL) {
    const v = text(k);
    if (v === undefined) continue;
    const b = formBool(v);
    if (b === undefined) {
      throw new Refusal(
        400,
        `[{'type': 'bool_parsing', 'loc': ('body', '${k}'), 'msg': 'Input should be a valid boolean'}]`,
      );
    }
    bools[k] = b;
  }
  const size = text("size");
  if (size !== undefined && !/^\d+x\d+$/.test(size)) {
    throw new Refusal(400, `size: String should match pattern '^\\d+x\\d+$'`); // videos.py:30 SizeStr
  }
  const seconds = text("seconds");
  if (seconds !== undefined && !/^[1-9]\d*$/.test(seconds)) {
    throw new Refusal(400, `seconds: String should match pattern '^[1-9]\\d*$'`); // videos.py:31
  }
  // _parse_form_json (api_server.py:2692-2707): invalid JSON, or not an object for extra_params / lora.
  const json = (k: string, wantObject: boolean): unknown => {
    const v = text(k);
    if (v === undefined || v === "") return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new Refusal(400, "Invalid JSON in form field.");
    }
    if (wantObject && (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))) {
      throw new Refusal(
        400,
        `Invalid JSON in form field: expected dict, got ${Array.isArray(parsed) ? "list" : typeof parsed}.`,
      );
    }
    return parsed;
  };
  const extra = (json("extra_params", true) ?? {}) as Record<string, unknown>;
  json("lora", true);
  const refs = [
    json("image_reference", false),
    json("video_reference", false),
    seen.has("input_reference") ? true : undefined,
  ];
  if (refs.filter((r) => r !== undefined).length > 1) {
    throw new Refusal(400, "Provide only one of input_reference, image_reference, or video_reference."); // :2987-2994
  }
  // VideoGenerationRequest(**request_data) runs inside the dependency (:3027): a pydantic
  // ValidationError there is not a RequestValidationError, so no handler catches it and
  // Starlette answers a plain 500 "Internal Server Error".
  const bounds: [string, number | undefined, number, number][] = [
    ["num_inference_steps", ints.num_inference_steps, 1, 200], // videos.py:146-151
    ["guidance_scale", floats.guidance_scale, 0, 20], // videos.py:152-157
    ["guidance_scale_2", floats.guidance_scale_2, 0, 20], // videos.py:158-163
    ["boundary_ratio", floats.boundary_ratio, 0, 1], // videos.py:164-169
    ["true_cfg_scale", floats.true_cfg_scale, 0, 20], // videos.py:174-179
    ["width", ints.width, 1, Infinity],
    ["height", ints.height, 1, Infinity], // videos.py:139-140
    ["fps", ints.fps, 1, Infinity],
    ["num_frames", ints.num_frames, 1, Infinity], // videos.py:141-142
  ];
  for (const [k, v, lo, hi] of bounds) {
    if (v !== undefined && (v < lo || v > hi)) throw new Refusal(500, "Internal Server Error", true);
  }
  for (const k of Object.keys(extra)) if (!COSMOS3_EXTRA_PARAMS.has(k)) dropped.push(`extra_params:${k}`);
  const model = text("model");
  if (model !== undefined && model !== servedModel) {
    throw new Refusal(400, `Model mismatch: request specifies '${model}' but server is running '${servedModel}'.`); // :3039-3046
  }
  const form: VideoForm = { prompt, ints, floats, bools, extra };
  if (model !== undefined) form.model = model;
  if (size) {
    const [w, h] = size.split("x").map(Number);
    form.size = { width: w, height: h };
  }
  const neg = text("negative_prompt");
  if (neg !== undefined) form.negativePrompt = neg;
  const file = seen.get("input_reference");
  if (file) {
    const kind = sniffMedia(file.data);
    if (!kind) throw new Refusal(400, "Invalid input_reference: provided content is not a valid image or video."); // test_video_server.py:1273-1274
    form.file = { data: file.data, kind };
  }
  if (file || refs[1] !== undefined) referenceVideoDecodeSpec(form);
  return form;
}

/**
 * `Cosmos3 reference_video_decode_spec` (pipeline_cosmos3.py:821-853), run by the route for
 * any uploaded reference (api_server.py:3057-3064); its ValueError is an HTTP 400 (:2779-2782).
 */
function referenceVideoDecodeSpec(form: VideoForm): void {
  const e = form.extra;
  try {
    if (actionMode(e.action_mode) !== undefined) return;
    conditionIndexes(e.condition_frame_indexes_vision);
    const keep = String(e.condition_video_keep || "first").trim().toLowerCase(); // utils.py:128-132
    if (keep !== "first" && keep !== "last") {
      throw new Error("Cosmos3 condition_video_keep must be either 'first' or 'last'.");
    }
  } catch (err) {
    throw new Refusal(400, (err as Error).message);
  }
}

/** `normalize_action_mode` (cosmos3/action.py:81-89). */
export function actionMode(v: unknown): "policy" | "forward_dynamics" | "inverse_dynamics" | undefined {
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim().toLowerCase();
  if (!s) return undefined;
  if (s !== "policy" && s !== "forward_dynamics" && s !== "inverse_dynamics") {
    throw new Error(
      `Unsupported Cosmos3 action_mode='${
        String(v)
      }'; expected one of ['forward_dynamics', 'inverse_dynamics', 'policy'].`,
    );
  }
  return s;
}

/** `normalize_condition_frame_indexes_vision` (cosmos3/utils.py:98-118); default (0, 1) (:22). */
export function conditionIndexes(v: unknown): number[] {
  if (v === undefined || v === null) return [0, 1];
  let items: unknown[];
  if (typeof v === "string") items = v.split(",").map((x) => x.trim()).filter(Boolean);
  else if (typeof v === "number") items = [v];
  else if (Array.isArray(v)) items = v;
  else {throw new Error(
      `Cosmos3 condition_frame_indexes_vision must be an int, comma-separated string, or iterable of ints; got ${typeof v}.`,
    );}
  const ints = items.map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n)) throw new Error(`invalid literal for int(): ${JSON.stringify(x)}`);
    return n;
  });
  const out = [...new Set(ints)].sort((a, b) => a - b);
  if (!out.length) throw new Error("Cosmos3 condition_frame_indexes_vision must contain at least one index.");
  if (out.some((i) => i < 0)) {
    throw new Error(`Cosmos3 condition_frame_indexes_vision must be non-negative, got ${out}.`);
  }
  return out;
}

/** What the pipeline will produce for a request that passed the route. */
export interface PipelinePlan {
  kind: "image" | "video" | "action";
  width: number;
  height: number;
  numFrames: number;
  steps: number;
  guidance: number;
  flowShift: number;
  maxSequenceLength: number;
  /** Timesteps [lo, hi] whose steps apply CFG; null: every step (:3283, :3297, read at :3347, gated at :2476-2481). */
  guidanceInterval: [number, number] | null;
  action?: { mode: string; chunk: number; rawDim: number; domainId: number };
}

/**
 * The pipeline's own checks and defaults (pipeline_cosmos3.py:3270-3345 and the action
 * helpers). A failure here is a ValueError in the engine: an `EngineGenerateError`, so a
 * sync request answers 500 and an async job fails with code 500.
 * @param modelActionDim the checkpoint's `action_dim` (raw widths are padded to it).
 */
export function planPipeline(kind: "image" | "video", p: {
  width?: number;
  height?: number;
  numFrames?: number;
  steps?: number;
  guidance?: number;
  flowShift?: number;
  extra: Record<string, unknown>;
  hasVideo: boolean;
}, modelActionDim: number): PipelinePlan {
  const e = p.extra;
  const num = (k: string) => (e[k] === undefined || e[k] === null ? undefined : Number(e[k]));
  const mode = actionMode(e.action_mode);
  // _get_sp_param: extra_args' value unless None, else the mode's default; diffuse() unpacks it as `lo, hi`.
  const interval = (dflt: [number, number] | null): [number, number] | null => {
    const v = e.guidance_interval;
    if (v === undefined || v === null) return dflt;
    if (!Array.isArray(v) || v.length !== 2) throw new Error("cannot unpack guidance_interval into (lo, hi)");
    return [Number(v[0]), Number(v[1])];
  };
  if (kind === "image") {
    return {
      kind,
      width: p.width ?? 1024,
      height: p.height ?? 1024,
      numFrames: 1, // :3276-3278
      steps: p.steps ?? 50,
      guidance: p.guidance ?? 7.0,
      flowShift: num("flow_shift") ?? p.flowShift ?? 3.0, // :3280-3282
      maxSequenceLength: num("max_sequence_length") || 4096, // :3350-3353
      guidanceInterval: interval([400, 1000]), // COSMOS3_T2I_DEFAULT_GUIDANCE_INTERVAL (:171, :3283)
    };
  }
  let numFrames = p.numFrames ?? 189; // :3291
  let steps = p.steps ?? 35; // :3292
  let guidance = p.guidance ?? 6.0; // :3293-3294
  let flowShift = 10.0; // the engine's start-up value, :969-975
  let action: PipelinePlan["action"];
  if (mode) {
    // :3300-3320
    let chunk: number;
    const chunkParam = num("action_chunk_size");
    if (chunkParam !== undefined) {
      chunk = Math.trunc(chunkParam);
      if (p.numFrames === undefined) numFrames = chunk + 1;
    } else if (p.numFrames === undefined) {
      chunk = 16;
      numFrames = 17;
    } else chunk = numFrames - 1;
    if (chunk <= 0) throw new Error(`Cosmos3 action_chunk_size must be positive, got ${chunk}.`);
    if (numFrames !== chunk && numFrames !== chunk + 1) {
      throw new Error(
        `Cosmos3 action requests require num_frames to equal action_chunk_size or action_chunk_size + 1; got num_frames=${numFrames}, action_chunk_size=${chunk}.`,
      );
    }
    steps = p.steps ?? 30;
    guidance = p.guidance ?? 1.0;
    flowShift = 5.0;
    // resolve_domain_id(require_explicit=True) (:3336-3341, action.py:92-117)
    let domainId: number;
    if (e.domain_id !== undefined && e.domain_id !== null) {
      domainId = Math.trunc(Number(e.domain_id));
      if (domainId < 0) throw new Error(`Cosmos3 domain_id must be non-negative, got ${domainId}.`);
    } else {
      const name = e.domain_name === undefined || e.domain_name === null
        ? ""
        : String(e.domain_name).trim().toLowerCase();
      if (!name) {
        throw new Error(
          "Cosmos3 action generation requires extra_args['domain_id'] or non-empty extra_args['domain_name'].",
        );
      }
      if (!(name in DOMAIN_IDS)) {
        throw new Error(
          `Unknown Cosmos3 action domain_name='${String(e.domain_name)}'; expected one of ${
            JSON.stringify(Object.keys(DOMAIN_IDS).sort())
          } or pass domain_id directly.`,
        );
      }
      domainId = DOMAIN_IDS[name];
    }
    // _prepare_action_latents (:2350-2390)
    let rawDim = num("raw_action_dim");
    if (mode === "forward_dynamics") {
      const a = e.action; // load_action_tensor (action.py:188-202)
      if (a === undefined || a === null) {
        throw new Error(
          "Cosmos3 forward_dynamics action mode requires extra_args['action'] (a JSON array / nested list / tensor of shape [T, D]).",
        );
      }
      const rows = Array.isArray(a) && a.length === 1 && Array.isArray(a[0]) && Array.isArray(a[0][0]) ? a[0] : a;
      const ok = Array.isArray(rows) && rows.length > 0 &&
        rows.every((r: unknown) =>
          Array.isArray(r) && r.length === (rows[0] as unknown[]).length && r.every((x) => typeof x === "number")
        );
      if (!ok) throw new Error("Cosmos3 action must have shape [T, D].");
      rawDim ??= (rows[0] as unknown[]).length;
      if ((rows[0] as unknown[]).length > modelActionDim) {
        throw new Error(
          `Cosmos3 action dimension ${(rows[0] as unknown[]).length} exceeds model action_dim=${modelActionDim}.`,
        );
      }
    } else if (rawDim === undefined) {
      throw new Error("Cosmos3 action_mode='policy' and 'inverse_dynamics' require extra_args['raw_action_dim'].");
    }
    if (!(rawDim >= 1 && rawDim <= modelActionDim)) {
      throw new Error(`Cosmos3 raw_action_dim must be in [1, ${modelActionDim}], got ${rawDim}.`);
    }
    action = { mode, chunk, rawDim: Math.trunc(rawDim), domainId };
  } else {
    numFrames = Math.ceil((numFrames - 1) / 4) * 4 + 1; // _ceil_video_num_frames (:188-196, :3322-3334)
    if (p.hasVideo) {
      const indexes = conditionIndexes(e.condition_frame_indexes_vision);
      const latent = Math.floor((numFrames - 1) / 4) + 1; // :2231-2240
      const out = indexes.filter((i) => i >= latent);
      if (out.length) {
        throw new Error(
          `Cosmos3 condition_frame_indexes_vision contains indexes outside the latent video: indexes=(${
            indexes.join(", ")
          }), latent_frames=${latent}.`,
        );
      }
    }
  }
  return {
    kind: mode ? "action" : "video",
    width: p.width ?? 1280, // :3284-3287 (an action request sizes from its observation instead)
    height: p.height ?? 720,
    numFrames,
    steps,
    guidance,
    flowShift: num("flow_shift") ?? p.flowShift ?? flowShift,
    maxSequenceLength: num("max_sequence_length") || 4096,
    guidanceInterval: interval(null), // no default interval for video or action (:3297)
    ...(action ? { action } : {}),
  };
}
