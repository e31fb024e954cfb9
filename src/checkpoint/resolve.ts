/**
 * Turns what the user typed — a local checkpoint folder or a Hugging Face repo id
 * (`"org/name"`) — into a folder on disk. Repo ids are looked up in the local Hugging Face
 * hub cache only (no download): `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`, in the layout
 * `models--org--name/refs/<revision>` → `snapshots/<commit>/`.
 *
 * @example
 * ```ts
 * import { resolveCheckpoint } from "./resolve.ts";
 * const ckpt = await resolveCheckpoint("test/fixtures/qwen3vl-tiny");
 * ckpt.source; // "local"
 * // await resolveCheckpoint("Qwen/Qwen3-VL-2B-Instruct") → { dir: ".../snapshots/<sha>", source: "hf-cache", ... }
 * ```
 * @module
 */
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { CheckpointError } from "../errors.ts";

/** Where a checkpoint was found. */
export interface ResolvedCheckpoint {
  /** Absolute folder holding config.json, tokenizer.json, *.safetensors … */
  dir: string;
  /** `"local"` for a folder path, `"hf-cache"` for a repo id found in the hub cache. */
  source: "local" | "hf-cache";
  /** The repo id, for `"hf-cache"`. */
  repoId?: string;
  /** The revision asked for (`"main"` by default), for `"hf-cache"`. */
  revision?: string;
  /** The snapshot's commit hash, for `"hf-cache"`. */
  commit?: string;
}

/** Options of {@link resolveCheckpoint}. */
export interface ResolveOptions {
  /** Hub cache folder (default: from the environment, see the module docs). */
  cacheDir?: string;
  /** Branch, tag or 40-hex commit (default `"main"`). */
  revision?: string;
  /** Environment to read HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COMMIT = /^[0-9a-f]{40}$/;

/**
 * The Hugging Face hub cache folder the environment points to (see the module docs).
 *
 * @example
 * ```ts
 * import { hfHubCacheDir } from "./resolve.ts";
 * hfHubCacheDir({ HF_HOME: "/data/hf" }); // "/data/hf/hub"
 * ```
 */
export function hfHubCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "huggingface", "hub");
  return join(homedir(), ".cache", "huggingface", "hub");
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Resolves a local folder or a cached Hugging Face repo id to a checkpoint folder. Throws a
 * {@link CheckpointError} that lists every place looked at and how to get the model.
 *
 * @example
 * ```ts
 * import { resolveCheckpoint } from "./resolve.ts";
 * const { dir } = await resolveCheckpoint("test/fixtures/qwen3vl-tiny");
 * ```
 */
export async function resolveCheckpoint(idOrPath: string, options: ResolveOptions = {}): Promise<ResolvedCheckpoint> {
  if (!idOrPath) {
    throw new CheckpointError("No checkpoint given.", {
      hint: 'Pass a folder path or a Hugging Face repo id such as "Qwen/Qwen3-VL-2B-Instruct".',
    });
  }
  const local = resolve(idOrPath.startsWith("~/") ? join(homedir(), idOrPath.slice(2)) : idOrPath);
  if (await isDir(local)) return { dir: local, source: "local" };

  if (!REPO_ID.test(idOrPath)) {
    throw new CheckpointError(
      `Checkpoint folder ${local} does not exist (and ${
        JSON.stringify(idOrPath)
      } is not a Hugging Face repo id "org/name").`,
      {
        hint:
          'Check the path, or pass a repo id such as "Qwen/Qwen3-VL-2B-Instruct" that is in your Hugging Face cache.',
      },
    );
  }
  const cache = options.cacheDir ?? hfHubCacheDir(options.env ?? process.env);
  const revision = options.revision ?? "main";
  const repoDir = join(cache, `models--${idOrPath.replace("/", "--")}`);
  const looked = [`folder ${local}`, `${repoDir}`];
  const download =
    `Download it first, e.g. \`hf download ${idOrPath}\` (or \`huggingface-cli download ${idOrPath}\`), ` +
    "set HF_HUB_CACHE / HF_HOME to the cache that has it, or pass the checkpoint folder's path.";
  if (!(await isDir(repoDir))) {
    throw new CheckpointError(`Checkpoint ${idOrPath} not found. Looked for: ${looked.join("; ")}.`, {
      hint: download,
    });
  }
  let commit: string;
  if (COMMIT.test(revision)) {
    commit = revision;
  } else {
    const ref = join(repoDir, "refs", revision);
    looked.push(ref);
    try {
      commit = (await readFile(ref, "utf8")).trim();
    } catch {
      throw new CheckpointError(
        `Checkpoint ${idOrPath}: no revision ${JSON.stringify(revision)} in the cache. Looked for: ${
          looked.join("; ")
        }.`,
        {
          hint: download,
        },
      );
    }
  }
  const dir = join(repoDir, "snapshots", commit);
  looked.push(dir);
  if (!(await isDir(dir))) {
    throw new CheckpointError(
      `Checkpoint ${idOrPath}: snapshot ${commit} is missing. Looked for: ${looked.join("; ")}.`,
      { hint: download },
    );
  }
  return { dir, source: "hf-cache", repoId: idOrPath, revision, commit };
}
