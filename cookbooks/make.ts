/**
 * Writes every cookbook notebook (`cookbooks/quickstart.ipynb`, the one to read first, and
 * `cookbooks/{reasoner,generator,action}/*.ipynb`) from its spec (`quickstart_spec.ts`; per folder
 * `reasoner/spec.ts`, `generator/spec.ts`, `action/spec.ts`), written with the small toolkit of
 * `toolkit.ts`, so the notebooks share one structure: what the workflow is (from the Cosmos 3
 * README), its inputs (from `assets/`, made by `assets/make.ts`), the typed request with the spec's
 * defaults filled in, the backend picked from the environment, and one cell per call,
 * `await show(reason(…))` (or `generate` / `rollout`), which streams, shows progress and renders
 * the result. The notebooks are committed without outputs; `--check` fails when a committed
 * notebook differs from what this script writes.
 *
 * @example
 * ```sh
 * node --import tsx cookbooks/make.ts          # (re)write the notebooks
 * node --import tsx cookbooks/make.ts --check  # exit 1 when one is stale
 * ```
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { actionNotebooks } from "./action/spec.ts";
import { generatorNotebooks } from "./generator/spec.ts";
import { quickstartNotebook } from "./quickstart_spec.ts";
import { reasonerNotebooks } from "./reasoner/spec.ts";
import { notebookJson, type NotebookSpec, withImports } from "./toolkit.ts";

export type { NotebookSpec } from "./toolkit.ts";
export { notebookJson } from "./toolkit.ts";

const here = dirname(fileURLToPath(import.meta.url));

/** Every cookbook notebook, with its import cell written: the quickstart first. */
export function allNotebooks(): NotebookSpec[] {
  return [quickstartNotebook(), ...reasonerNotebooks(), ...generatorNotebooks(), ...actionNotebooks()].map(
    withImports,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const nb of allNotebooks()) {
    const path = join(here, nb.path);
    const text = notebookJson(nb);
    if (check) {
      if (!existsSync(path) || readFileSync(path, "utf8") !== text) {
        console.error(`stale: ${relative(process.cwd(), path)}`);
        stale++;
      }
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  if (check && stale) {
    console.error(`${stale} notebook(s) differ from cookbooks/make.ts: run node --import tsx cookbooks/make.ts`);
    process.exit(1);
  }
  if (!check) console.log(`[cookbooks] wrote ${allNotebooks().length} notebooks under ${here}`);
}
