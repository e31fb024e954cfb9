import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assignLanes, labelColors, timelineBundle } from "../../kernel/mod.ts";
import { elements, str } from "./_sink.ts";

describe("timeline", () => {
  test("overlapping events go to separate lanes, touching ones share", () => {
    assert.deepEqual(assignLanes([{ start: 0, end: 2, label: "a" }, { start: 1, end: 3, label: "b" }, { start: 2, end: 4, label: "c" }]), [0, 1, 0]);
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
  test("duration defaults to the last end; bad events are ValidationErrors", () => {
    const bars = elements(str(timelineBundle([{ start: 1, end: 4, label: "x" }]), "text/html"), "rect", "cosmos-event");
    assert.equal(Number(bars[0].x) + Number(bars[0].width), 720 - 12);
    assert.throws(() => timelineBundle([{ start: 3, end: 1, label: "x" }]), { name: "ValidationError" });
    assert.throws(() => timelineBundle([], {}), { name: "ValidationError" });
  });
});
