/**
 * Picks where a call runs: the embedded native engine (a checkpoint folder or a
 * Hugging Face repo id resolved in the HF cache) or a remote server URL
 * (vLLM / NIM for the Reasoner, vLLM-Omni for the Generator).
 *
 * Order: the call's `backend` option, then `COSMOS_REASONER_BACKEND` /
 * `COSMOS_GENERATOR_BACKEND` for that surface, then `COSMOS_BACKEND`.
 * A string starting with `http://` or `https://` is a server URL; `native:` may prefix a
 * checkpoint; anything else is a checkpoint folder or repo id.
 * `COSMOS_API_KEY` and `COSMOS_MODEL` fill a remote backend's key and model;
 * `COSMOS_ALLOWED_LOCAL_MEDIA_PATH` the root the server may read files from.
 *
 * @example
 * ```ts
 * import { resolveBackend } from "./resolve.ts";
 * resolveBackend("http://127.0.0.1:8000/v1", "reasoner");
 * // { kind: "remote", url: "http://127.0.0.1:8000/v1", ... }
 * ```
 * @module
 */
import process from "node:process";
import { z } from "zod";
import { CosmosError } from "../errors.ts";
import type { BackendSpec } from "../schema/results.ts";
import { parseWith } from "../schema/validate.ts";

/** The two runtime surfaces of Cosmos 3. */
export type Surface = "reasoner" | "generator";

const ENV_BY_SURFACE: Record<Surface, string> = {
  reasoner: "COSMOS_REASONER_BACKEND",
  generator: "COSMOS_GENERATOR_BACKEND",
};

const BackendSpecSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("native"),
    checkpoint: z.string().min(1),
    device: z.enum(["cpu", "cuda", "auto"]).optional(),
    quantization: z.enum(["none", "fp8"]).optional(),
  }).strict(),
  z.object({
    kind: z.literal("remote"),
    url: z.string().regex(/^https?:\/\/[^\s/]+/, "an http(s):// URL"),
    model: z.string().min(1).optional(),
    apiKey: z.string().optional(),
    allowedLocalMediaPath: z.string().optional(),
  }).strict(),
]);

type Env = Record<string, string | undefined>;

function fromString(value: string, env: Env): BackendSpec {
  const v = value.trim();
  if (/^https?:\/\//i.test(v)) {
    return {
      kind: "remote",
      url: v.replace(/\/+$/, ""),
      ...(env.COSMOS_MODEL ? { model: env.COSMOS_MODEL } : {}),
      ...(env.COSMOS_API_KEY ? { apiKey: env.COSMOS_API_KEY } : {}),
      ...(env.COSMOS_ALLOWED_LOCAL_MEDIA_PATH ? { allowedLocalMediaPath: env.COSMOS_ALLOWED_LOCAL_MEDIA_PATH } : {}),
    };
  }
  const checkpoint = v.replace(/^native:/, "");
  const device = env.COSMOS_DEVICE === "cpu" || env.COSMOS_DEVICE === "cuda" ? env.COSMOS_DEVICE : "auto";
  return { kind: "native", checkpoint, device };
}

/**
 * Resolves the backend for one call.
 * @throws {CosmosError} `no_backend` when neither the option nor the environment names one.
 */
export function resolveBackend(
  option: string | BackendSpec | undefined,
  surface: Surface,
  env: Env = process.env,
): BackendSpec {
  if (option !== undefined && typeof option !== "string") return parseWith(BackendSpecSchema, option, "backend");
  const chosen = option ?? env[ENV_BY_SURFACE[surface]] ?? env.COSMOS_BACKEND;
  if (!chosen || !chosen.trim()) {
    throw new CosmosError("no_backend", `No ${surface} backend is configured.`, {
      hint: `Pass { backend: "<checkpoint folder | HF repo id | http://host:8000/v1>" }, or set ${
        ENV_BY_SURFACE[surface]
      } or COSMOS_BACKEND.`,
    });
  }
  return fromString(chosen, env);
}

/** A short human label for a backend, used in results and notebook output. */
export function describeBackend(spec: BackendSpec): string {
  return spec.kind === "remote"
    ? `remote:${spec.url}${spec.model ? ` (${spec.model})` : ""}`
    : `native:${spec.device ?? "auto"} (${spec.checkpoint}${spec.quantization === "fp8" ? ", fp8" : ""})`;
}
