// The seed's "Input and Output" table: input types, input formats, action dimensions per
// embodiment, output types; and the Qwen3-VL message shape of the Reasoner section.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ACTION_DIMS,
  actionChunkFor,
  ChatMessages,
  type EmbodimentId,
  EMBODIMENTS,
  GenerateRequest,
  generationMode,
  ImageInput,
  parseWith,
  RolloutRequest,
  VideoInput,
} from "../../src/schema/mod.ts";
import { ValidationError } from "../../src/errors.ts";

function catchValidation(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  assert.fail("expected a ValidationError");
}

describe("input formats", () => {
  const images: [unknown, boolean][] = [
    ["scene.jpg", true],
    ["scene.JPEG", true],
    ["scene.png", true],
    ["scene.webp", true],
    ["https://example.com/robot_153.jpg", true],
    ["file:///data/a.png", true],
    ["data:image/png;base64,iVBORw0KGgo=", true],
    ["data:image/webp;base64,UklGR", true],
    [{ data: new Uint8Array([1, 2]), mimeType: "image/jpeg" }, true],
    ["scene.gif", false],
    ["scene.bmp", false],
    ["scene", false],
    ["", false],
    ["data:image/gif;base64,R0lGOD", false],
    [{ data: new Uint8Array([1]), mimeType: "image/gif" }, false],
    [42, false],
  ];
  for (const [input, ok] of images) {
    test(`image ${JSON.stringify(input instanceof Object && "data" in input ? { ...input, data: "bytes" } : input)} → ${ok}`, () => {
      assert.equal(ImageInput.safeParse(input).success, ok);
    });
  }
  const videos: [unknown, boolean][] = [
    ["clip.mp4", true],
    ["https://download.samplelib.com/mp4/sample-5s.mp4", true],
    ["data:video/mp4;base64,AAAA", true],
    [{ data: new Uint8Array([0]), mimeType: "video/mp4" }, true],
    ["clip.avi", false],
    ["clip.mov", false],
    ["clip.mp4.txt", false],
    ["data:video/webm;base64,AAAA", false],
  ];
  for (const [input, ok] of videos) {
    test(`video ${typeof input === "string" ? input : "bytes"} → ${ok}`, () => {
      assert.equal(VideoInput.safeParse(input).success, ok);
    });
  }
  test("a rejected format names the field and the allowed formats", () => {
    const e = catchValidation(() => parseWith(GenerateRequest, { prompt: "x", image: "a.gif" }, "request"));
    assert.equal(e.field, "request.image");
    assert.equal(e.value, "a.gif");
    assert.match(e.allowed, /\.jpg/);
  });
});

describe("input types → Generator workflows", () => {
  const rows: [Record<string, unknown>, string][] = [
    [{ output: "image" }, "text-to-image"],
    [{}, "text-to-video"],
    [{ sound: true }, "text-to-video-with-sound"],
    [{ image: "start.png" }, "image-to-video"],
    [{ image: "start.png", sound: true }, "image-to-video-with-sound"],
    [{ video: "source.mp4" }, "video-to-video"],
    [{ video: "source.mp4", sound: true }, "video-to-video-with-sound"],
  ];
  for (const [extra, mode] of rows) {
    test(mode, () => assert.equal(generationMode(GenerateRequest.parse({ prompt: "A robot.", ...extra })), mode));
  }
  const invalid: [Record<string, unknown>, string][] = [
    [{ output: "image", sound: true }, "sound"],
    [{ output: "image", image: "a.png" }, "image"],
    [{ image: "a.png", video: "b.mp4" }, "video"],
    [{ conditionVideoKeep: 5 }, "conditionVideoKeep"],
    [{ video: "b.mp4", conditionFrameIndexes: [0, 400] }, "conditionFrameIndexes"],
    [{ outputPath: "out.gif" }, "outputPath"],
    [{ prompt: "" }, "prompt"],
    [{ guidanceScale: -1 }, "guidanceScale"],
    [{ numInferenceSteps: 0 }, "numInferenceSteps"],
    [{ bogus: 1 }, ""],
  ];
  for (const [extra, field] of invalid) {
    test(`rejects ${JSON.stringify(extra)} at ${field || "(unknown key)"}`, () => {
      const e = catchValidation(() => parseWith(GenerateRequest, { prompt: "A robot.", ...extra }, "request"));
      assert.equal(e.field, field ? `request.${field}` : "request");
    });
  }
  test("diffusion settings left out stay unset (not sent); effective shows the model's per-mode defaults", () => {
    const r = GenerateRequest.parse({ prompt: "A robot." });
    assert.deepEqual(
      [
        r.guidanceScale,
        r.numInferenceSteps,
        r.flowShift,
        r.maxSequenceLength,
        r.negativePrompt,
        r.guardrails,
        r.useResolutionTemplate,
        r.useDurationTemplate,
      ],
      [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined],
    );
    assert.equal(r.sound, false);
    // vLLM-Omni pipeline_cosmos3.py:159-170: video 35 / 6.0 / 10.0 at 1280x720, image 50 / 7.0 / 3.0 at 1024x1024.
    const e = r.effective;
    assert.deepEqual([
      e.numInferenceSteps,
      e.guidanceScale,
      e.flowShift,
      e.maxSequenceLength,
      e.width,
      e.height,
      e.numFrames,
    ], [35, 6, 10, 4096, 1280, 720, 189]);
    const i = GenerateRequest.parse({ prompt: "A robot.", output: "image" }).effective;
    assert.deepEqual([i.numInferenceSteps, i.guidanceScale, i.flowShift, i.width, i.height, i.numFrames], [
      50,
      7,
      3,
      1024,
      1024,
      1,
    ]);
    const a = RolloutRequest.parse({ mode: "policy", embodiment: "droid", image: "o.png", prompt: "Go." }).effective;
    assert.deepEqual([a.numInferenceSteps, a.guidanceScale, a.flowShift, a.actionChunkSize, a.numFrames], [
      30,
      1,
      5,
      16,
      17,
    ]);
    const set = GenerateRequest.parse({ prompt: "A robot.", guidanceScale: 3, resolution: "256p" }).effective;
    assert.deepEqual([set.guidanceScale, set.width, set.height], [3, 320, 192]);
    assert.equal(set.defaulted.includes("guidanceScale"), false);
  });
});

describe("action dimensions per embodiment (seed)", () => {
  const table: [EmbodimentId, number][] = [
    ["camera_pose", 9],
    ["av", 9],
    ["egocentric", 57],
    ["droid", 10],
    ["robomind_franka", 10],
    ["ur", 10],
    ["fractal", 10],
    ["bridge", 10],
    ["umi", 10],
    ["dual_droid", 20],
    ["agibot", 29],
    ["agibot_gear_gripper", 29],
    ["agibot_gear_gripper_ext", 29],
    ["pusht", 2],
  ];
  test("the table covers every embodiment", () => {
    assert.deepEqual(Object.keys(EMBODIMENTS).sort(), table.map(([id]) => id).sort());
    assert.deepEqual(ACTION_DIMS, { camera: 9, av: 9, egocentric: 57, single_arm: 10, dual_arm: 20, humanoid: 29 });
  });
  for (const [id, dim] of table) {
    test(`${id}: ${dim}D`, () => {
      assert.equal(EMBODIMENTS[id].actionDim, dim);
      const rows = Array.from({ length: 4 }, (_, t) => Array.from({ length: dim }, (_, d) => t * 0.1 + d));
      assert.equal(actionChunkFor(id).safeParse(rows).success, true);
      const short = rows.map((r) => r.slice(1));
      const res = actionChunkFor(id).safeParse(short);
      assert.equal(res.success, false);
      const fd = RolloutRequest.safeParse({ mode: "forward_dynamics", embodiment: id, image: "s.png", actions: short });
      assert.equal(fd.success, false);
      const ok = RolloutRequest.safeParse({ mode: "forward_dynamics", embodiment: id, image: "s.png", actions: rows });
      assert.equal(ok.success, true);
    });
  }
  test("domain names are vLLM-Omni's (cosmos3/action.py:28-46); the 57D egocentric layout is hand_pose", () => {
    assert.deepEqual(
      Object.fromEntries(Object.entries(EMBODIMENTS).map(([id, e]) => [id, `${e.domainName}=${e.domainId}`])),
      {
        camera_pose: "camera_pose=2",
        av: "av=1",
        egocentric: "hand_pose=3",
        droid: "droid_lerobot=8",
        robomind_franka: "robomind-franka=8",
        ur: "robomind-ur=13",
        fractal: "fractal=20",
        bridge: "bridge_orig_lerobot=7",
        umi: "umi=6",
        dual_droid: "robomind-franka-dual=12",
        agibot: "agibotworld=15",
        agibot_gear_gripper: "agibot_gear_gripper=15",
        agibot_gear_gripper_ext: "agibot_gear_gripper_ext=15",
        pusht: "pusht=4",
      },
    );
  });
  test("an action file's chunk is unknown until it is read: effective leaves it out instead of guessing from numFrames", () => {
    const e = RolloutRequest.parse({
      mode: "forward_dynamics",
      embodiment: "droid",
      image: "o.png",
      actions: "chunk.json",
      numFrames: 9,
    }).effective;
    assert.equal(e.actionChunkSize, undefined);
    assert.equal(e.numFrames, 9);
    const inline = RolloutRequest.parse({
      mode: "forward_dynamics",
      embodiment: "droid",
      image: "o.png",
      actions: [Array(10).fill(0), Array(10).fill(0)],
    }).effective;
    assert.deepEqual([inline.actionChunkSize, inline.numFrames], [2, 3]);
  });
  test("a domainName override must be a known domain of the same action width", () => {
    const base = { mode: "policy", embodiment: "droid", image: "o.png", prompt: "Go." } as const;
    assert.equal(RolloutRequest.safeParse({ ...base, domainName: "robomind-ur" }).success, true);
    assert.equal(RolloutRequest.safeParse({ ...base, domainName: "ur_lerobot" }).success, false);
    assert.equal(RolloutRequest.safeParse({ ...base, domainName: "av" }).success, false);
  });
  test("NaN / Infinity / ragged rows are rejected", () => {
    assert.equal(actionChunkFor("av").safeParse([Array(9).fill(NaN)]).success, false);
    assert.equal(actionChunkFor("av").safeParse([Array(9).fill(Infinity)]).success, false);
    assert.equal(actionChunkFor("av").safeParse([Array(9).fill(0), Array(8).fill(0)]).success, false);
    assert.equal(actionChunkFor("av").safeParse([]).success, false);
  });
});

describe("action modes (vLLM-Omni table)", () => {
  const chunk = Array.from({ length: 8 }, () => Array(10).fill(0.5));
  const rows: [Record<string, unknown>, string | null][] = [
    [{ mode: "policy", embodiment: "droid", image: "obs.png", prompt: "pick up the cube" }, null],
    [{ mode: "policy", embodiment: "droid", prompt: "pick up the cube" }, "image"],
    [{ mode: "policy", embodiment: "droid", image: "obs.png" }, "prompt"],
    [{ mode: "policy", embodiment: "droid", image: "obs.png", prompt: "p", actions: chunk }, "actions"],
    [{ mode: "forward_dynamics", embodiment: "droid", image: "obs.png", actions: chunk }, null],
    [{ mode: "forward_dynamics", embodiment: "droid", image: "obs.png", actions: "actions.json" }, null],
    [{ mode: "forward_dynamics", embodiment: "droid", image: "obs.png" }, "actions"],
    [{ mode: "forward_dynamics", embodiment: "droid", actions: chunk }, "image"],
    [
      { mode: "forward_dynamics", embodiment: "droid", image: "o.png", actions: chunk, actionChunkSize: 4 },
      "actionChunkSize",
    ],
    [{ mode: "inverse_dynamics", embodiment: "av", video: "drive.mp4" }, null],
    [{ mode: "inverse_dynamics", embodiment: "av", image: "drive.png" }, "video"],
    [{ mode: "teleport", embodiment: "av", video: "drive.mp4" }, "mode"],
    [{ mode: "policy", embodiment: "spot", image: "o.png", prompt: "p" }, "embodiment"],
  ];
  for (const [input, field] of rows) {
    test(`${JSON.stringify({ ...input, actions: input.actions ? "…" : undefined })} → ${field ?? "valid"}`, () => {
      if (field === null) {
        RolloutRequest.parse(input);
      } else {
        const e = catchValidation(() => parseWith(RolloutRequest, input, "request"));
        assert.equal(e.field, `request.${field}`);
      }
    });
  }
  test("a wrong action row names the row and the embodiment's dimension", () => {
    const bad = [Array(10).fill(0), Array(7).fill(0)];
    const e = catchValidation(() =>
      parseWith(
        RolloutRequest,
        { mode: "forward_dynamics", embodiment: "bridge", image: "o.png", actions: bad },
        "request",
      )
    );
    assert.equal(e.field, "request.actions.1");
    assert.match(e.allowed, /10 numbers per row \(bridge\)/);
  });
});

describe("Qwen3-VL message shape", () => {
  test("the seed's example (bare video_url) and the NIM example ({url}) both parse", () => {
    ChatMessages.parse([
      { role: "system", content: [{ type: "text", text: "You are a helpful assistant." }] },
      {
        role: "user",
        content: [
          { type: "video_url", video_url: "https://example.com/video.mp4" },
          { type: "text", text: "List the notable events with approximate timestamps." },
        ],
      },
    ]);
    ChatMessages.parse([
      { role: "system", content: "You are a helpful assistant." },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,AAAA" } },
          { type: "text", text: "Describe what is happening in this image in one sentence." },
        ],
      },
    ]);
  });
  const bad: [unknown, string][] = [
    [[{ role: "tool", content: "x" }], "0.role"],
    [[{ role: "user", content: [{ type: "audio_url", audio_url: "a.wav" }] }], "0.content.0.type"],
    [[{ role: "system", content: [{ type: "image_url", image_url: "a.png" }] }], "0.content"],
    [[{ role: "user", content: [] }], "0.content"],
    [[], ""],
  ];
  for (const [messages, field] of bad) {
    test(`rejects at messages${field ? "." + field : ""}`, () => {
      const e = catchValidation(() => parseWith(ChatMessages, messages, "messages"));
      assert.equal(e.field, field ? `messages.${field}` : "messages");
    });
  }
});
