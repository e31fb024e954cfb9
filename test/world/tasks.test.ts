// The tasks' prompts and reference answers say what the sample holds: the caption names every
// object and event and the camera's motion, grounding asks for visible objects only, the action
// waypoints are the chunk seen by the first frame's camera, describe-anything marks real objects.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  actionTask,
  captionTask,
  describeTask,
  eventSubjects,
  generatorPrompt,
  gridBox,
  groundingTask,
  makeSample,
  objectPlaces,
  PLACE_BOUNDS,
  placeAt,
  plausibilityTask,
  promptPlaces,
  promptWithPlaces,
  renderClip,
  seedsOf,
  SMALL,
  temporalTask,
} from "../../src/world/mod.ts";
import { parseAnswer } from "../../src/reasoner/parse.ts";
import { REASON_TASKS } from "../../src/schema/reason_request.ts";

describe("world tasks", () => {
  test("the caption names every object, every event in order, and which way the camera moves", () => {
    let drifts = 0;
    for (let seed = 50; seed < 110; seed++) {
      const s = makeSample(seed, { frames: 33, fps: 8 });
      const text = captionTask(s).answer;
      for (const o of s.scene.objects) assert.match(text, new RegExp(`\\b${o.label}\\b`));
      let at = 0;
      for (const e of s.events) {
        const i = text.toLowerCase().indexOf(e.label, at);
        assert.ok(i >= at, `seed ${seed}: "${e.label}" missing or out of order`);
        at = i;
      }
      const sweep = s.scene.camera.toDeg - s.scene.camera.fromDeg;
      if (sweep === 0) assert.match(text, /camera stays still/);
      else {
        assert.match(text, new RegExp(`circles the table to the ${sweep > 0 ? "right" : "left"}`));
        // the right way: a point nearer than the centre drifts the other way in the image
        const first = renderClip(s, SMALL, [0]).views[0];
        const last = renderClip(s, SMALL, [s.frames - 1]).views[0];
        const still = s.scene.objects.findIndex((_, i) =>
          !s.events.some((e) => e.object === i) && s.trace.frames[0].objects[i].pos[1] < 0.3
        );
        if (still >= 0 && first[still].outline && last[still].outline) {
          const du = last[still].outline![0] - first[still].outline![0];
          assert.ok(sweep > 0 ? du < 0 : du > 0, `seed ${seed}: sweep ${sweep}, near object drifts ${du}`);
          drifts++;
        }
      }
    }
    assert.ok(drifts >= 3, `${drifts} camera drifts checked`);
  });
  test("grounding asks for one visible object or all; boxes are the visible pixels' on the grid", () => {
    let one = 0;
    let all = 0;
    for (let seed = 80; seed < 120; seed++) {
      const s = makeSample(seed, { frames: 9, fps: 8 });
      const clip = renderClip(s, SMALL, [0]);
      const t = groundingTask(s, clip.views[0], SMALL, 0);
      const labels = t.reference.map((b) => b.label);
      if (/Locate every object/.test(t.prompt)) all++;
      else {
        one++;
        assert.equal(labels.length, 1);
        assert.match(t.prompt, new RegExp(`Locate the ${labels[0]}\\.`));
      }
      for (const b of t.reference) {
        const i = s.scene.objects.findIndex((o) => o.label === b.label);
        assert.deepEqual(b.box, gridBox(clip.views[0][i].box!, SMALL));
        assert.ok(clip.views[0][i].pixels >= 24);
      }
    }
    assert.ok(one > 8 && all > 8, `${one} single, ${all} all`);
  });
  test("repeatColor: two objects of different shapes share a colour, the rest of the seed's scene unchanged", () => {
    let repeated = 0;
    for (let seed = 200; seed < 260; seed++) {
      const plain = makeSample(seed, { frames: 9, fps: 8 });
      const s = makeSample(seed, { frames: 9, fps: 8, repeatColor: true });
      const { objects: _a, ...sceneRest } = s.scene;
      const { objects: _b, ...plainRest } = plain.scene;
      assert.deepEqual(sceneRest, plainRest, `seed ${seed}`);
      assert.equal(s.scene.objects.length, plain.scene.objects.length);
      const recoloured = s.scene.objects.filter((o, i) => o.color !== plain.scene.objects[i].color);
      for (const [i, o] of s.scene.objects.entries()) {
        const { color: _c, label: _l, ...rest } = o;
        const { color: _pc, label: _pl, ...plainObj } = plain.scene.objects[i];
        assert.deepEqual(rest, plainObj, `seed ${seed}: only colour and label change`);
        assert.equal(o.label, `${o.color} ${o.shape}`);
      }
      assert.equal(new Set(s.scene.objects.map((o) => o.label)).size, s.scene.objects.length, "labels stay unique");
      const shapesApart = new Set(plain.scene.objects.map((o) => o.shape)).size > 1;
      if (!shapesApart) {
        assert.deepEqual(s.scene, plain.scene, `seed ${seed}: one shape only, nothing to recolour`);
        continue;
      }
      repeated++;
      assert.equal(recoloured.length, 1, `seed ${seed}`);
      const twins = s.scene.objects.filter((o) => o.color === recoloured[0].color);
      assert.equal(twins.length, 2);
      assert.notEqual(twins[0].shape, twins[1].shape);
      // the caption and the grounding name both, each with its own box
      assert.match(captionTask(s).answer, new RegExp(`${twins[0].label}\\b.*${twins[1].label}\\b`));
      const clip = renderClip(s, SMALL, [0]);
      const all = groundingTask(s, clip.views[0], SMALL, 1);
      for (const b of all.reference) {
        const i = s.scene.objects.findIndex((o) => o.label === b.label);
        assert.deepEqual(b.box, gridBox(clip.views[0][i].box!, SMALL));
      }
    }
    assert.ok(repeated > 40, `${repeated} of 60 scenes have two shapes to share a colour`);
  });
  test("colorShare: that share of grounding items asks for every object of one colour that shows; the others unchanged", () => {
    let byColor = 0, twins = 0;
    for (let seed = 300; seed < 360; seed++) {
      const s = makeSample(seed, { frames: 9, fps: 8, repeatColor: true });
      const views = renderClip(s, SMALL, [0]).views[0];
      for (let v = 0; v < 3; v++) {
        const plain = groundingTask(s, views, SMALL, v);
        assert.deepEqual(groundingTask(s, views, SMALL, v, { colorShare: 0 }), plain);
        const t = groundingTask(s, views, SMALL, v, { colorShare: 0.5 });
        const m = /^Locate every (\w+) object\. /.exec(t.prompt);
        if (!m) {
          assert.deepEqual(t, plain, `seed ${seed} variant ${v}: an item not drawn for a colour is the same item`);
          continue;
        }
        byColor++;
        // every visible object of the colour, none of another, each with its box of "every object"
        const everyObject = s.scene.objects.flatMap((o, i) =>
          views[i].box && views[i].pixels >= 24 ? [{ label: o.label, box: gridBox(views[i].box!, SMALL) }] : []
        );
        assert.deepEqual(t.reference, everyObject.filter((b) => b.label.startsWith(`${m[1]} `)), `seed ${seed}`);
        assert.ok(t.reference.length >= 1, `seed ${seed}: a colour that shows`);
        if (t.reference.length === 2) twins++;
        assert.deepEqual(parseAnswer("grounding_2d", t.answer), {
          kind: "boxes",
          boxes: t.reference.map((b) => ({ label: b.label, box: b.box })),
        });
      }
    }
    assert.ok(byColor > 50 && byColor < 130, `${byColor} of 180 items ask for a colour`);
    assert.ok(twins > 5, `${twins} colour questions with two objects to box`);
  });
  test("action waypoints: the chunk's TCP path on the first frame, ending where the scenario ends", () => {
    for (let seed = 120; seed < 140; seed++) {
      const s = makeSample(seed, { frames: 17, fps: 10, movingCamera: false });
      const t = actionTask(s, SMALL);
      assert.equal(t.reference.length, 8);
      const parsed = parseAnswer("action_cot", t.answer);
      assert.equal(parsed.kind, "trajectory");
      assert.match(t.prompt, new RegExp(s.scenario.instruction.replace(/[.]/g, "\\.")));
      // the last waypoint is the last row, seen from the first frame: the gripper in the last frame
      const last = renderClip(s, SMALL, [s.frames - 1]).gripper[0];
      const [x, y] = t.reference[t.reference.length - 1];
      assert.ok(Math.abs(x - (last.u / SMALL.width) * 1000) <= 1 && Math.abs(y - (last.v / SMALL.height) * 1000) <= 1);
    }
  });
  test("describe-anything marks visible objects and describes each by its colour and shape", () => {
    for (let seed = 140; seed < 160; seed++) {
      const s = makeSample(seed, { frames: 9, fps: 8 });
      const clip = renderClip(s, SMALL, [0]);
      const t = describeTask(s, clip.views[0], SMALL, 0);
      assert.equal(t.subjects.length, t.reference.length);
      t.reference.forEach((r, k) => {
        const o = s.scene.objects.find((x) => x.label === r.label)!;
        assert.deepEqual(t.subjects[k].box, gridBox(clip.views[0][o.id].box!, SMALL));
        assert.match(r.description, new RegExp(`^an? ${o.label}: ${o.color}, `));
      });
    }
  });
  test("plausibility answers, short / timed / reasoned: each parses to the label; timed and reasoned say when", () => {
    const seen = { plausible: 0, teleport: 0, float: 0, pass_through: 0 };
    for (let seed = 200; seed < 260; seed++) {
      const s = makeSample(seed, { frames: 33, fps: 8, anomaly: "auto", implausibleShare: 0.5 });
      const label = s.plausibility.label;
      const short = plausibilityTask(s);
      assert.deepEqual(short, plausibilityTask(s, "short"), "short is the default");
      assert.match(short.answer, new RegExp(`^${label}\\. `));
      const timed = plausibilityTask(s, "timed");
      const reasoned = plausibilityTask(s, "reasoned");
      assert.ok(timed.answer.startsWith(`${label}. `), `seed ${seed}: ${timed.answer}`);
      assert.ok(reasoned.answer.endsWith(` So the motion is ${label}.`), `seed ${seed}: ${reasoned.answer}`);
      // the same account, in the other order
      assert.equal(
        timed.answer.slice(label.length + 2),
        reasoned.answer.slice(0, -` So the motion is ${label}.`.length),
      );
      for (const t of [short, timed, reasoned]) {
        assert.equal(t.prompt, REASON_TASKS.physical_plausibility.defaultPrompt);
        assert.equal(t.reference, label);
        assert.deepEqual(parseAnswer("physical_plausibility", t.answer), { kind: "label", label }, t.answer);
      }
      // every motion the arm causes, with its seconds, under either label
      for (const e of s.events.filter((e) => e.kind !== "teleported" && e.kind !== "floated")) {
        assert.ok(
          timed.answer.toLowerCase().includes(`${e.label} from ${e.start.toFixed(1)} to ${e.end.toFixed(1)} s`),
          `seed ${seed}: "${e.label}" with its seconds missing from ${timed.answer}`,
        );
        if (e.kind === "pushed") assert.match(timed.answer, /, pushed by the gripper\./);
      }
      if (label === "plausible") {
        seen.plausible++;
        assert.match(timed.answer, /(Nothing moves by itself|Nothing on the table moves)\.$/);
      } else {
        const v = s.plausibility.violations[0];
        seen[v.kind]++;
        assert.ok(
          timed.answer.toLowerCase().includes(`${v.detail} at ${(v.frame / s.fps).toFixed(1)} s`),
          `seed ${seed}: the ${v.kind} and its second missing from ${timed.answer}`,
        );
        assert.equal(/nothing touches it/.test(timed.answer), v.kind !== "pass_through", timed.answer);
      }
    }
    assert.ok(Object.values(seen).filter((n) => n > 0).length >= 3, JSON.stringify(seen));
  });
  test("temporal answers round to 0.01 s; the generator prompt says what moves", () => {
    const s = makeSample(161, { frames: 33, fps: 8, scenario: "push", movingCamera: false });
    const t = temporalTask(s);
    assert.deepEqual(t.reference.map((e) => e.label), s.events.map((e) => e.label));
    assert.ok(t.reference.every((e, i) => Math.abs(e.start - s.events[i].start) <= 0.005));
    const o = s.scene.objects[s.scenario.target];
    assert.match(
      generatorPrompt(s),
      new RegExp(`The ${o.label} slides (to the left|to the right|away from the camera|towards the camera)\\.`),
    );
  });
  test("layout: the prompt says where each object stands in the first frame, as its pixels there show", () => {
    let judged = 0;
    const seen = new Set<string>();
    for (const seed of seedsOf("eval", 80, 0)) {
      const s = makeSample(seed, { frames: 17, fps: 10 });
      const places = objectPlaces(s);
      const prompt = generatorPrompt(s, { layout: true });
      // the plain prompt with each object's place after its label; the events' sentences unchanged
      assert.equal(
        prompt.replace(/ (on the left|in the middle|on the right) (towards the back|near the camera)/g, ""),
        generatorPrompt(s),
      );
      assert.deepEqual(eventSubjects(prompt), eventSubjects(generatorPrompt(s)));
      const views = renderClip(s, SMALL).views;
      s.scene.objects.forEach((o, i) => {
        const p = places[i];
        const words = `${p.across === "middle" ? "in the middle" : `on the ${p.across}`} ${
          p.depth === "back" ? "towards the back" : "near the camera"
        }`;
        assert.ok(prompt.includes(`${o.label} ${words}`), `seed ${seed}: ${o.label} ${words} in ${prompt}`);
        seen.add(`${p.across}/${p.depth}`);
        // the drawn pixels' box centre, where it is clear of a bound, is on the same side of it
        const box = views[0][i].box;
        if (!box) return;
        const u = (box[0] + box[2]) / 2 / SMALL.width;
        const v = (box[1] + box[3]) / 2 / SMALL.height;
        const clear = (x: number, b: number) => Math.abs(x - b) > 0.04;
        if (clear(u, PLACE_BOUNDS.left) && clear(u, PLACE_BOUNDS.right)) {
          assert.equal(
            u < PLACE_BOUNDS.left ? "left" : u > PLACE_BOUNDS.right ? "right" : "middle",
            p.across,
            `seed ${seed} ${o.label}`,
          );
          judged++;
        }
        if (clear(v, PLACE_BOUNDS.back)) {
          assert.equal(v < PLACE_BOUNDS.back ? "back" : "front", p.depth, `seed ${seed} ${o.label}`);
        }
      });
    }
    assert.equal(seen.size, 6, [...seen].join(" "));
    assert.ok(judged >= 120, `${judged} objects clear of a bound`);
  });
  test("promptPlaces reads back each object's place from a layout prompt; placeAt is objectPlaces' rule", () => {
    for (const seed of seedsOf("eval", 150, 0)) {
      const s = makeSample(seed, { frames: 17, fps: 10 });
      const places = objectPlaces(s);
      const read = promptPlaces(generatorPrompt(s, { layout: true }));
      const labels = s.scene.objects.map((o) => o.label);
      s.scene.objects.forEach((o, i) => {
        // a label the scene has twice in two places is left out; otherwise each object's place, as said
        const twice = labels.filter((l) => l === o.label).length > 1 &&
          places.some((p, j) =>
            labels[j] === o.label && (p.across !== places[i].across || p.depth !== places[i].depth)
          );
        assert.deepEqual(read.get(o.label), twice ? undefined : places[i], `seed ${seed} ${o.label}`);
      });
      assert.equal(promptPlaces(generatorPrompt(s)).size, 0, `seed ${seed}: a plain prompt gives no places`);
    }
    assert.deepEqual(
      [
        ...promptPlaces(
          "A red cube ON THE RIGHT near the camera, a red cube on the left near the camera, an orange " +
            "ball in the middle towards the back and a blue ball on the left.",
        ).entries(),
      ],
      [["orange ball", { across: "middle", depth: "back" }]],
    );
    assert.deepEqual(placeAt(0.39, 0.57), { across: "left", depth: "back" });
    assert.deepEqual(placeAt(0.5, 0.59), { across: "middle", depth: "front" });
    assert.deepEqual(placeAt(0.61, 0.9), { across: "right", depth: "front" });
  });
  test("promptWithPlaces writes a place for each object of a plain prompt, the events' object in the middle near the camera", () => {
    const PLACE_WORDS = / (on the left|in the middle|on the right) (towards the back|near the camera)/g;
    for (const seed of seedsOf("eval", 150, 0)) {
      const s = makeSample(seed, { frames: 17, fps: 10 });
      const plain = generatorPrompt(s);
      const up = promptWithPlaces(plain);
      // the same prompt with place words added, nothing else; each object in its own place
      assert.equal(up.replace(PLACE_WORDS, ""), plain, `seed ${seed}`);
      const said = [...up.matchAll(PLACE_WORDS)].map((m) => `${m[1]} ${m[2]}`);
      assert.equal(said.length, s.scene.objects.length, `seed ${seed}: ${up}`);
      assert.equal(new Set(said).size, said.length, `seed ${seed}: two objects in one place: ${up}`);
      const subject = eventSubjects(plain)[0];
      const once = subject && s.scene.objects.filter((o) => o.label === subject.label).length === 1;
      if (once) assert.deepEqual(promptPlaces(up).get(subject.label), { across: "middle", depth: "front" });
      assert.equal(promptWithPlaces(up), up, `seed ${seed}: a prompt with places is kept`);
      const layout = generatorPrompt(s, { layout: true });
      assert.equal(promptWithPlaces(layout), layout);
    }
    // events alone: the scene sentence with the objects they name; with one more when they name one
    assert.equal(
      promptWithPlaces("The red cube slides to the left. The blue ball falls."),
      "A wooden table with a red cube in the middle near the camera and a blue ball on the left towards the back, " +
        "a grey robot arm above it. The red cube slides to the left. The blue ball falls.",
    );
    assert.equal(
      promptWithPlaces("The red cube slides to the left."),
      "A wooden table with a red cube in the middle near the camera and a green ball on the left towards the back, " +
        "a grey robot arm above it. The red cube slides to the left.",
    );
    assert.match(
      promptWithPlaces("the green cylinder slides left"),
      /green cylinder in the middle .* and a red cube on /,
    );
    // a scene sentence of one object is the prompt's own: places only
    assert.equal(
      promptWithPlaces("A wooden table with a red cube, a grey robot arm above it. The red cube slides to the left."),
      "A wooden table with a red cube in the middle near the camera, a grey robot arm above it. The red cube slides " +
        "to the left.",
    );
    // a place given is kept and not given again; the events' object still first
    assert.equal(
      promptWithPlaces(
        "A wooden table with a green cylinder, an orange ball in the middle near the camera and a red cube, a grey " +
          "robot arm above it. The red cube slides to the right.",
      ),
      "A wooden table with a green cylinder on the right towards the back, an orange ball in the middle near the camera " +
        "and a red cube on the left towards the back, a grey robot arm above it. The red cube slides to the right.",
    );
    // not the world's words: unchanged
    for (
      const p of [
        "A red cube slides left.",
        "Waves at dusk.",
        "A wooden table with a red teapot, a grey robot arm above it. The red cube slides to the left.",
      ]
    ) assert.equal(promptWithPlaces(p), p);
  });
  test("eventSubjects reads back the objects a generator prompt's events move, in order, once each", () => {
    for (const seed of [...seedsOf("train", 150, 0), ...seedsOf("eval", 150, 0)]) {
      const s = makeSample(seed, { frames: 17, fps: 10 });
      const moved: string[] = [];
      for (const e of s.events) {
        const label = s.scene.objects[e.object].label;
        if (!moved.includes(label)) moved.push(label);
      }
      const subjects = eventSubjects(generatorPrompt(s));
      assert.deepEqual(subjects.map((x) => x.label), moved, `seed ${seed}: ${generatorPrompt(s)}`);
      for (const x of subjects) assert.equal(x.label, `${x.color} ${x.shape}`);
    }
    // the scene sentence's "a" / "an" objects are not subjects; case does not matter; a colour or shape the world
    // does not have is not one
    assert.deepEqual(eventSubjects("A wooden table with a red cube and an orange ball. Nothing moves."), []);
    assert.deepEqual(eventSubjects("THE Blue Ball rolls; the blue ball stops; the pink cube waits."), [
      { color: "blue", shape: "ball", label: "blue ball" },
    ]);
    assert.deepEqual(
      eventSubjects("The red cube slides to the left. The robot arm picks up the blue ball. The red cube falls.")
        .map((x) => x.label),
      ["red cube", "blue ball"],
    );
  });
});
