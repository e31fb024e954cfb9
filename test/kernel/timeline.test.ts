import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assignLanes, labelColors, show, timelineBundle } from "../../kernel/mod.ts";
import { parseAnswer } from "../../src/reasoner/parse.ts";
import { captureDisplays, elements, str } from "./_sink.ts";

describe("timeline", () => {
  test("overlapping events go to separate lanes, touching ones share", () => {
    assert.deepEqual(
      assignLanes([{ start: 0, end: 2, label: "a" }, { start: 1, end: 3, label: "b" }, {
        start: 2,
        end: 4,
        label: "c",
      }]),
      [0, 1, 0],
    );
    assert.deepEqual(assignLanes([{ start: 5, end: 6, label: "late" }, { start: 0, end: 10, label: "long" }]), [1, 0]);
  });
  test("one bar per event, placed in proportion to the duration", () => {
    const events = [{ start: 0, end: 5, label: "open door" }, { start: 2.5, end: 10, label: "walk" }];
    const b = timelineBundle(events, { duration: 10, width: 524, title: "Events" });
    const bars = elements(str(b, "text/html"), "rect", "cosmos-event");
    assert.equal(bars.length, 2);
    // drawing area: 12 px padding each side → 500 px for 10 s
    assert.deepEqual(bars.map((r) => [Number(r.x), Number(r.width)]), [[12, 250], [137, 375]]);
    assert.notEqual(bars[0].y, bars[1].y);
    assert.equal(bars[1].fill, labelColors(["open door", "walk"]).get("walk"));
    assert.notEqual(bars[0].fill, bars[1].fill);
    assert.match(str(b, "text/plain"), /^<timeline 2 events over 10s>\n {2}0s–5s open door\n {2}2\.5s–10s walk$/);
    assert.match(str(b, "text/html"), />Events</);
  });
  test("duration defaults to the last end; only a bad duration option or nothing at all throws", () => {
    const bars = elements(str(timelineBundle([{ start: 1, end: 4, label: "x" }]), "text/html"), "rect", "cosmos-event");
    assert.equal(Number(bars[0].x) + Number(bars[0].width), 720 - 12);
    assert.throws(() => timelineBundle([], {}), { name: "ValidationError" });
    assert.throws(() => timelineBundle([{ start: 0, end: 1, label: "x" }], { duration: -1 }), {
      name: "ValidationError",
    });
    assert.throws(() => timelineBundle([{ start: 0, end: 1, label: "x" }], { duration: Number.NaN }), {
      name: "ValidationError",
    });
  });
});

describe("timeline of imperfect model output", () => {
  /** The `<li>` texts of the problems note, tags stripped. */
  const noteItems = (html: string) =>
    [...html.matchAll(/<li>(.*?)<\/li>/g)].map((m) =>
      m[1].replace(/<[^>]+>/g, "").replaceAll("&quot;", '"').replaceAll("&amp;", "&")
    );

  test("an event that ends before it starts is left out and noted; the others are drawn", () => {
    const b = timelineBundle([
      { start: 0, end: 2, label: "reach" },
      { start: 5, end: 3, label: "grasp" },
      { start: 6, end: 8, label: "lift" },
    ], { duration: 10 });
    const html = str(b, "text/html");
    const bars = elements(html, "rect", "cosmos-event");
    assert.deepEqual(bars.map((r) => [Number(r["data-start"]), Number(r["data-end"])]), [[0, 2], [6, 8]]);
    assert.match(html, /<div class="cosmos-problems"[^>]*><b>⚠ 1 event not drawn:<\/b>/);
    assert.deepEqual(noteItems(html), ["grasp 5s–3s: ends before it starts"]);
    assert.match(
      str(b, "text/plain"),
      /^<timeline 2 events over 10s>\n {2}0s–2s reach\n {2}6s–8s lift\n {2}⚠ not drawn: grasp 5s–3s: ends before it starts$/,
    );
  });

  test("overlapping and identical events are all drawn, each in its own lane", () => {
    const events = [{ start: 0, end: 4, label: "arm moves" }, { start: 1, end: 3, label: "gripper closes" }, {
      start: 1,
      end: 3,
      label: "gripper closes",
    }];
    const html = str(timelineBundle(events, { duration: 4 }), "text/html");
    const bars = elements(html, "rect", "cosmos-event");
    assert.equal(bars.length, 3);
    assert.equal(new Set(bars.map((r) => r.y)).size, 3, "three lanes");
    assert.doesNotMatch(html, /cosmos-problems/);
  });

  test("NaN, Infinity, null and negative times are noted; past the end is drawn cut and dashed", () => {
    const b = timelineBundle([
      { start: Number.NaN, end: 2, label: "a" },
      { start: 1, end: Number.POSITIVE_INFINITY, label: "b" },
      { start: null as unknown as number, end: 1, label: "c" },
      { start: -1, end: 1, label: "d" },
      { start: 12, end: 14, label: "after" },
      { start: 8, end: 12, label: "runs over" },
      { start: 2, end: 3, label: "ok" },
    ], { duration: 10, width: 524 });
    const html = str(b, "text/html");
    const bars = elements(html, "rect", "cosmos-event");
    assert.deepEqual(bars.map((r) => r["data-start"]), ["8", "2"]);
    const cut = elements(html, "rect", "cosmos-flagged");
    assert.equal(cut.length, 1);
    assert.equal(Number(cut[0].x) + Number(cut[0].width), 524 - 12, "cut at the end of the axis");
    assert.ok(cut[0]["stroke-dasharray"]);
    assert.deepEqual(noteItems(html), [
      "a NaN–2s: a time is not a number (NaN, Infinity or missing)",
      "b 1s–Infinity: a time is not a number (NaN, Infinity or missing)",
      "c null–1s: a time is not a number (NaN, Infinity or missing)",
      "d -1s–1s: negative time",
      "after 12s–14s: starts after the end (10s)",
      "runs over 8s–12s: runs past the end (10s): drawn cut",
    ]);
    assert.match(html, /5 events not drawn:.*1 event drawn dashed:/);
  });

  test("the parser's invalid items join the note; with no drawable event the note alone is shown", () => {
    const invalid = [{ item: '{"start":5,"end":3,"event":"grasp"}', problem: "ends (3s) before it starts (5s)" }];
    const withBars = str(timelineBundle([{ start: 0, end: 1, label: "ok" }], { invalid }), "text/html");
    assert.equal(elements(withBars, "rect", "cosmos-event").length, 1);
    assert.deepEqual(noteItems(withBars), ['{"start":5,"end":3,"event":"grasp"}: ends (3s) before it starts (5s)']);
    const only = timelineBundle([], { invalid });
    assert.equal(elements(str(only, "text/html"), "rect", "cosmos-event").length, 0);
    assert.match(str(only, "text/html"), /1 event not drawn/);
    assert.match(str(only, "text/plain"), /^<timeline 0 events>\n {2}⚠ not drawn: /);
  });
});

describe("show() of a temporal-localization answer with bad events", () => {
  async function shownHtml(answer: string, duration?: number): Promise<string> {
    const cap = captureDisplays();
    try {
      await show({ task: "temporal_localization", answer, parsed: parseAnswer("temporal_localization", answer) }, {
        duration,
      });
    } finally {
      cap.restore();
    }
    return cap.sent.map((c) => c.bundle["text/html"]).filter((h): h is string => typeof h === "string").join("\n");
  }

  test("the good events are drawn, the bad ones listed", async () => {
    const html = await shownHtml(
      '[{"start": 0, "end": 2, "event": "reach"}, {"start": 5, "end": 3, "event": "grasp"}, {"start": 1, "end": 3, "event": "look"}]',
      4,
    );
    assert.equal(elements(html, "rect", "cosmos-event").length, 2);
    assert.match(html, /1 event not drawn:.*grasp.*ends \(3s\) before it starts \(5s\)/);
  });

  test("no usable event at all: the note is still shown", async () => {
    const html = await shownHtml('[{"start": 5, "end": 3, "event": "grasp"}, {"start": NaN, "end": 1, "event": "x"}]');
    assert.equal(elements(html, "rect", "cosmos-event").length, 0);
    assert.match(html, /2 events not drawn:/);
  });
});
