// Distilled few-step Cosmos 3 checkpoints (src/checkpoint/cosmos3.ts) on test/fixtures/cosmos3-tiny-distilled: the
// layout cosmos-framework's convert_model_to_diffusers.py writes for Cosmos3-Super-*-4Step (modular_model_index.json
// of a Cosmos3DistilledModularPipeline with distilled_sigmas beside model_index.json, a FlowMatchEulerDiscreteScheduler
// with stochastic_sampling and fixed_step_sampler_config), its transformer / VAE / tokenizer those of cosmos3-tiny.
// The schedule is read from where diffusers reads it (modular_model_index.json) and, without it, from where vLLM-Omni
// does (the scheduler's t_list); variants without model_index.json, and broken ones whose errors name file and field.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkpointLayout, loadCosmos3Checkpoint } from "../../src/checkpoint/mod.ts";
import { FIXTURES } from "../native/_reference.ts";
import { isCkptError } from "./_checkpoint_error.ts";

const DISTILLED = join(FIXTURES, "cosmos3-tiny-distilled");
const BASE = join(FIXTURES, "cosmos3-tiny");
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "cosmos3-distilled-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;

/** A copy of the distilled fixture's index and scheduler files (components linked to cosmos3-tiny's), changed by `edit`. */
async function variant(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const f of ["model_index.json", "modular_model_index.json"]) await cp(join(DISTILLED, f), join(dir, f));
  await cp(join(DISTILLED, "scheduler"), join(dir, "scheduler"), { recursive: true });
  for (const c of ["transformer", "vae", "text_tokenizer"]) await symlink(join(BASE, c), join(dir, c));
  await edit(dir);
  return dir;
}

async function editJson(path: string, edit: (j: Record<string, unknown>) => void): Promise<void> {
  const j = await readJson(path);
  edit(j);
  await writeFile(path, JSON.stringify(j));
}

describe("distilled Cosmos 3 checkpoints (modular_model_index.json)", () => {
  test("the fixture reads as a distilled checkpoint: diffusers' distilled_sigmas, the scheduler's shift and SDE flag", async () => {
    assert.equal(await checkpointLayout(DISTILLED), "cosmos3-diffusers");
    const ck = await loadCosmos3Checkpoint(DISTILLED);
    const modular = await readJson(join(DISTILLED, "modular_model_index.json"));
    const sched = await readJson(join(DISTILLED, "scheduler", "scheduler_config.json"));
    assert.equal(ck.modularIndex?._class_name, "Cosmos3DistilledModularPipeline");
    assert.deepEqual(ck.distilled, {
      sigmas: modular.distilled_sigmas,
      shift: sched.shift,
      stochastic: sched.stochastic_sampling,
    });
    assert.equal(ck.distilled!.stochastic, true);
    // The converter writes the same list to both files.
    assert.deepEqual(ck.distilled!.sigmas, (sched.fixed_step_sampler_config as { t_list: number[] }).t_list);
    assert.equal(ck.scheduler.config._class_name, "FlowMatchEulerDiscreteScheduler");
    assert.deepEqual(ck.modelIndex.scheduler, ["diffusers", "FlowMatchEulerDiscreteScheduler"]);
    // The linked components are cosmos3-tiny's.
    const base = await loadCosmos3Checkpoint(BASE);
    assert.deepEqual(ck.transformer.config, base.transformer.config);
    assert.deepEqual(
      ck.transformer.safetensors.map((f) => realpathSync(f)),
      base.transformer.safetensors.map((f) => realpathSync(f)),
    );
    assert.equal(ck.soundTokenizer, undefined, "sound_tokenizer is [null, null]");
    assert.equal(base.distilled, undefined, "a base checkpoint is not distilled");
    assert.equal(base.modularIndex, undefined);
  });

  test("only modular_model_index.json: its components and flags stand in for model_index.json", async () => {
    const dir = await variant("modular-only", (d) => rm(join(d, "model_index.json")));
    assert.equal(await checkpointLayout(dir), "cosmos3-diffusers");
    const ck = await loadCosmos3Checkpoint(dir);
    const full = await loadCosmos3Checkpoint(DISTILLED);
    assert.deepEqual(ck.distilled, full.distilled);
    for (const k of ["transformer", "vae", "scheduler", "text_tokenizer", "default_use_system_prompt"] as const) {
      assert.deepEqual(ck.modelIndex[k], full.modelIndex[k], k);
    }
  });

  test("only model_index.json: the scheduler's fixed_step_sampler_config gives the schedule (as vLLM-Omni reads it)", async () => {
    const dir = await variant("index-only", async (d) => {
      await rm(join(d, "modular_model_index.json"));
      await editJson(join(d, "scheduler", "scheduler_config.json"), (j) => {
        j.fixed_step_sampler_config = { t_list: [1.0, 0.5], sample_type: "ode" };
        j.stochastic_sampling = false;
      });
    });
    const ck = await loadCosmos3Checkpoint(dir);
    assert.equal(ck.modularIndex, undefined);
    assert.deepEqual(ck.distilled, { sigmas: [1.0, 0.5], shift: 1, stochastic: false });
  });

  test("a base modular index (Cosmos3OmniModularPipeline) is not distilled", async () => {
    const dir = await variant("omni-modular", (d) =>
      editJson(join(d, "modular_model_index.json"), (j) => {
        j._class_name = "Cosmos3OmniModularPipeline";
        j._blocks_class_name = "Cosmos3OmniBlocks";
        j.is_distilled = false;
        delete j.distilled_sigmas;
      }));
    const ck = await loadCosmos3Checkpoint(dir);
    assert.equal(ck.modularIndex?._class_name, "Cosmos3OmniModularPipeline");
    assert.equal(ck.distilled, undefined, "diffusers reads distilled_sigmas only for the distilled pipeline");
  });

  test("broken distilled checkpoints: errors name the file and field, with what to do", async () => {
    const modular = (d: string) => join(d, "modular_model_index.json");
    const cases: [string, (d: string) => Promise<void>, RegExp][] = [
      [
        "no-sigmas",
        (d) => editJson(modular(d), (j) => delete j.distilled_sigmas),
        /modular_model_index\.json: distilled_sigmas: a Cosmos3DistilledModularPipeline samples on these fixed sigmas/,
      ],
      [
        "bad-sigma",
        (d) => editJson(modular(d), (j) => (j.distilled_sigmas = [1.5, 0.5])),
        /modular_model_index\.json: distilled_sigmas\.0/,
      ],
      [
        "empty-sigmas",
        (d) => editJson(modular(d), (j) => (j.distilled_sigmas = [])),
        /modular_model_index\.json: distilled_sigmas/,
      ],
      [
        "is-distilled",
        (d) => editJson(modular(d), (j) => (j.is_distilled = false)),
        /modular_model_index\.json: is_distilled: is false but _class_name is Cosmos3DistilledModularPipeline/,
      ],
      [
        "unipc-in-modular",
        (d) =>
          editJson(modular(d), (j) => {
            const s = j.scheduler as unknown[];
            j.scheduler = [s[0], "UniPCMultistepScheduler", s[2]];
          }),
        /modular_model_index\.json: scheduler: a Cosmos3DistilledModularPipeline steps with FlowMatchEulerDiscreteScheduler/,
      ],
      [
        "index-disagrees",
        (d) => editJson(join(d, "model_index.json"), (j) => (j.scheduler = ["diffusers", "UniPCMultistepScheduler"])),
        /modular_model_index\.json: scheduler is FlowMatchEulerDiscreteScheduler but model_index\.json says UniPC/,
      ],
      [
        "unipc-scheduler-file",
        async (d) => {
          await rm(join(d, "model_index.json"));
          await writeFile(
            join(d, "scheduler", "scheduler_config.json"),
            await readFile(join(BASE, "scheduler", "scheduler_config.json")),
          );
        },
        /scheduler_config\.json: _class_name is UniPCMultistepScheduler, but this distilled checkpoint/,
      ],
      [
        "wrong-class",
        (d) => editJson(modular(d), (j) => (j._class_name = "FluxModularPipeline")),
        /modular_model_index\.json: _class_name: expected "Cosmos3DistilledModularPipeline"/,
      ],
      [
        "bad-t-list",
        (d) =>
          editJson(join(d, "scheduler", "scheduler_config.json"), (j) => {
            j.fixed_step_sampler_config = { t_list: [0.5], sample_type: "euler" };
          }),
        /scheduler_config\.json: fixed_step_sampler_config\.sample_type/,
      ],
      [
        "no-vae",
        async (d) => {
          await rm(join(d, "model_index.json"));
          await rm(join(d, "vae"));
        },
        /has no vae\/ folder \(the AutoencoderKLWan video tokenizer\), which modular_model_index\.json lists/,
      ],
    ];
    for (const [name, edit, re] of cases) {
      await assert.rejects(loadCosmos3Checkpoint(await variant(name, edit)), isCkptError(re), name);
    }
    const neither = await variant("neither", async (d) => {
      await rm(join(d, "model_index.json"));
      await rm(join(d, "modular_model_index.json"));
    });
    await assert.rejects(
      loadCosmos3Checkpoint(neither),
      isCkptError(/no model_index\.json \(nor modular_model_index\.json\)/),
    );
    assert.ok(realpathSync(join(DISTILLED, "transformer")).endsWith(join("cosmos3-tiny", "transformer")));
  });
});
