import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  birdsEyeFigure,
  findPlotlyJs,
  gripperFigure,
  plotlyBundle,
  type PlotlyFigure,
  resetPlotlyEmbedding,
  timeSeriesFigure,
  trajectory3dFigure,
} from "../../kernel/mod.ts";
import { show } from "../../kernel/show.ts";
import { actionGroupsFigure } from "../../kernel/plotly.ts";
import { ACTION_LAYOUTS, EMBODIMENTS, layoutColumnNames } from "../../src/schema/embodiments.ts";
import { parseAnswer } from "../../src/reasoner/parse.ts";
import { captureDisplays, str } from "./_sink.ts";

const pred = [[0, 0, 0, 1], [1, 2, 3, 1], [2, 4, 6, 0]];
const given = [[0, 0, 1, 1], [1, 1, 2, 0], [2, 2, 3, 0]];

function plotlyJson(fig: PlotlyFigure): { data: Record<string, unknown>[]; layout: Record<string, unknown> } {
  return plotlyBundle(fig, { embed: "never" })["application/vnd.plotly.v1+json"] as never;
}

describe("plotly figures", () => {
  test("3D end-effector path: one scatter3d per trajectory with its x, y, z columns", () => {
    const j = plotlyJson(trajectory3dFigure([{ name: "predicted", points: pred }, { name: "given", points: given }]));
    assert.equal(j.data.length, 2);
    assert.deepEqual(j.data.map((t) => [t.type, t.name]), [["scatter3d", "predicted"], ["scatter3d", "given"]]);
    assert.deepEqual([j.data[0].x, j.data[0].y, j.data[0].z], [[0, 1, 2], [0, 2, 4], [0, 3, 6]]);
    assert.notDeepEqual((j.data[0].line as { color: string }).color, (j.data[1].line as { color: string }).color);
  });
  test("per-dimension time series: a trace per dimension and trajectory on stacked y axes", () => {
    const j = plotlyJson(timeSeriesFigure([{ name: "predicted", points: pred }, { name: "given", points: given }], {
      fps: 2,
      dimNames: ["x", "y", "z", "grip"],
    }));
    assert.equal(j.data.length, 8);
    assert.deepEqual(j.data.map((t) => t.yaxis), ["y", "y", "y2", "y2", "y3", "y3", "y4", "y4"]);
    assert.deepEqual(j.data[6].y, [1, 1, 0]);
    assert.deepEqual(j.data[0].x, [0, 0.5, 1]);
    assert.deepEqual((j.layout.yaxis4 as { title: { text: string } }).title.text, "grip");
    assert.deepEqual(j.data.filter((t) => t.showlegend).map((t) => t.name), ["predicted", "given"]);
    assert.throws(() => timeSeriesFigure([{ name: "p", points: pred }], { dims: [4] }), { name: "ValidationError" });
  });
  test("gripper step line and bird's-eye waypoints with equal axes", () => {
    const g = plotlyJson(gripperFigure([{ name: "pred", values: [0, 0, 1] }]));
    assert.deepEqual([g.data[0].y, (g.data[0].line as { shape: string }).shape], [[0, 0, 1], "hv"]);
    // Cosmos 3's gripper convention, as the action assets (test/cookbooks/action_assets.test.ts): 1 = open
    assert.equal((g.layout.yaxis as { title: { text: string } }).title.text, "closed (0) ↔ open (1)");
    const b = plotlyJson(
      birdsEyeFigure([{ name: "plan", points: [[0, 0], [1, 5]] }, { name: "gt", points: [[0, 0], [2, 6]] }]),
    );
    assert.deepEqual(b.data.map((t) => t.name), ["plan", "gt", "start"]);
    assert.deepEqual([b.data[1].x, b.data[1].y], [[0, 2], [0, 6]]);
    assert.equal((b.layout.yaxis as { scaleanchor: string }).scaleanchor, "x");
    assert.throws(() => trajectory3dFigure([]), { name: "ValidationError" });
  });
});

describe("action chunks with NaN, Infinity or null", () => {
  // As a server's JSON gives them: null where the model produced NaN.
  const chunk = [[0, 0, 0, 1], [1, Number.NaN, 3, 1], [2, 4, Number.POSITIVE_INFINITY, 0], [3, 6, 9, null], [
    4,
    8,
    12,
    0,
  ]] as (number | null)[][];

  test("time series: every finite value plotted, bad ones as gaps (null), a note in the figure and under it", () => {
    const fig = timeSeriesFigure([{ name: "predicted", points: chunk }]);
    const j = plotlyJson(fig);
    assert.equal(j.data.length, 4);
    assert.deepEqual(j.data.map((t) => t.y), [[0, 1, 2, 3, 4], [0, null, 4, 6, 8], [0, 3, null, 9, 12], [
      1,
      1,
      0,
      null,
      0,
    ]]);
    const notes = (j.layout.annotations as { text: string }[]).map((a) => a.text);
    assert.deepEqual(notes, ["⚠ 3 values not drawn (see the note below the plot)"]);
    const b = plotlyBundle(fig, { embed: "never" });
    assert.match(str(b, "text/html"), /<div class="cosmos-problems"[^>]*><b>⚠ 3 values not drawn:<\/b>/);
    assert.ok(str(b, "text/html").includes("<code>predicted step 1: d1</code>: not a number (NaN, Infinity or null)"));
    assert.match(
      str(b, "text/plain"),
      /\n {2}⚠ not drawn: predicted step 2: d2: not a number \(NaN, Infinity or null\)\n {2}⚠ not drawn: predicted step 3: d3: /,
    );
    assert.doesNotMatch(JSON.stringify(j), /NaN|Infinity/, "the plotly JSON is valid JSON");
  });

  test("3D path and bird's-eye view keep the good points; a short row is a gap, not an exception", () => {
    const p3 = plotlyJson(trajectory3dFigure([{ name: "predicted", points: chunk }]));
    assert.deepEqual([p3.data[0].x, p3.data[0].y, p3.data[0].z], [[0, 1, 2, 3, 4], [0, null, 4, 6, 8], [
      0,
      3,
      null,
      9,
      12,
    ]]);
    assert.equal((p3.layout.annotations as unknown[]).length, 1);
    const bird = birdsEyeFigure([{ name: "plan", points: [[null, 1], [1, 5], [2]] as (number | null)[][] }]);
    const b = plotlyJson(bird);
    assert.deepEqual([b.data[0].x, b.data[0].y], [[null, 1, 2], [1, 5, null]]);
    assert.deepEqual([b.data[1].x, b.data[1].y], [[1], [5]], "start marker on the first drawable point");
    assert.deepEqual(bird.notes?.skipped.map((n) => `${n.item}: ${n.problem}`), [
      "plan step 0: d0: not a number (NaN, Infinity or null)",
      "plan step 2: d1: missing (needs x, y)",
    ]);
  });

  test("a clean figure has no note; the parser's invalid points are listed", () => {
    const clean = plotlyBundle(birdsEyeFigure([{ name: "plan", points: [[0, 0], [1, 5]] }]), { embed: "never" });
    assert.doesNotMatch(str(clean, "text/html"), /cosmos-problems/);
    assert.equal(
      plotlyJson(birdsEyeFigure([{ name: "plan", points: [[0, 0], [1, 5]] }])).layout.annotations,
      undefined,
    );
    const withParser = plotlyBundle(
      birdsEyeFigure([{ name: "trajectory", points: [[0, 0], [1, 5]] }], {
        invalid: [{ item: "[null,3]", problem: "a coordinate is not a number (NaN, null or text)" }],
      }),
      { embed: "never" },
    );
    assert.ok(str(withParser, "text/html").includes("<code>[null,3]</code>: a coordinate is not a number"));
  });

  test("gripper values with NaN", () => {
    const g = gripperFigure([{ name: "pred", values: [0, Number.NaN, 1] }]);
    assert.deepEqual(plotlyJson(g).data[0].y, [0, null, 1]);
    assert.equal(g.notes?.skipped.length, 1);
  });
});

describe("show() with NaN in the data", () => {
  async function shown(
    result: unknown,
  ): Promise<{ plots: { data: { y?: unknown }[]; layout: Record<string, unknown> }[]; html: string }> {
    const cap = captureDisplays();
    try {
      await show(result);
    } finally {
      cap.restore();
    }
    return {
      plots: cap.sent.map((c) => c.bundle["application/vnd.plotly.v1+json"]).filter(Boolean) as never,
      html: cap.sent.map((c) => c.bundle["text/html"]).filter((h): h is string => typeof h === "string").join("\n"),
    };
  }

  test("a rollout() action chunk with NaN / null: both plots drawn, with the note", async () => {
    const actions = [[0, 0, 0, 1], [1, null, 1, 0], [2, 2, Number.NaN, 1]];
    const { plots, html } = await shown({ mode: "policy", embodiment: "droid", actions, backend: "x" });
    assert.equal(plots.length, 2, "time series and 3D path");
    assert.deepEqual(plots[0].data[1].y, [0, null, 2]);
    for (const p of plots) assert.equal((p.layout.annotations as unknown[]).length, 1);
    assert.match(html, /2 values not drawn:.*predicted step 1: d1.*predicted step 2: d2/);
  });

  test("a trajectory answer with a NaN point: the other points and the note", async () => {
    const answer = "[[0, 0], [NaN, 3], [1, 5]]";
    const { plots, html } = await shown({ task: "action_cot", answer, parsed: parseAnswer("action_cot", answer) });
    assert.equal(plots.length, 1);
    assert.deepEqual(plots[0].data[0].y, [0, 5]);
    assert.ok(html.includes("<code>[null,3]</code>: a coordinate is not a number"));
  });
});

describe("action charts by the embodiment's layout (issue 13 item 4)", () => {
  type Json = { data: Record<string, unknown>[]; layout: Record<string, unknown> };
  /** A chunk whose value at [t][d] is t * 1000 + d, so every trace shows which column it drew. */
  const chunk = (steps: number, dim: number) =>
    Array.from({ length: steps }, (_, t) => Array.from({ length: dim }, (_, d) => t * 1000 + d));
  const titles = (j: Json) => (j.layout.annotations as { text: string }[]).map((a) => a.text.replace(/<[^>]+>/g, ""));
  const panels = (j: Json) => Object.keys(j.layout).filter((k) => /^yaxis\d*$/.test(k)).length;
  const domainX = (j: Json, n: string) => (j.layout[`xaxis${n}`] as { domain: number[] }).domain;

  test("every embodiment's layout names each column once, in a row as wide as its actions", () => {
    for (const [id, e] of Object.entries(EMBODIMENTS)) {
      const names = layoutColumnNames(ACTION_LAYOUTS[e.layout]);
      assert.equal(names.length, e.actionDim, id);
      assert.equal(new Set(names).size, names.length, `${id}: names are distinct`);
    }
    assert.deepEqual(layoutColumnNames(ACTION_LAYOUTS.arm10), [
      "translation x",
      "translation y",
      "translation z",
      "rotation R00",
      "rotation R10",
      "rotation R20",
      "rotation R01",
      "rotation R11",
      "rotation R21",
      "gripper",
    ]);
  });

  test("single arm 10D: three panels (translation, 6D rotation, gripper) in one column, each column its own trace", () => {
    const j = plotlyJson(actionGroupsFigure([{ name: "predicted", points: chunk(3, 10) }], ACTION_LAYOUTS.arm10));
    assert.equal(panels(j), 3);
    assert.deepEqual(titles(j), ["translation: x y z", "rotation (6D): R00 R10 R20 R01 R11 R21", "gripper"]);
    assert.equal(j.data.length, 10);
    assert.deepEqual(j.data.map((t) => t.yaxis), [...Array(3).fill("y"), ...Array(6).fill("y2"), "y3"]);
    j.data.forEach((t, d) => assert.deepEqual(t.y, [d, 1000 + d, 2000 + d], `trace ${d} draws column ${d}`));
    assert.equal((j.data[9].line as { shape?: string }).shape, "hv", "the gripper is a step line");
    assert.deepEqual(j.data.filter((t) => t.showlegend).map((t) => t.name), ["predicted"]);
  });

  test("egocentric 57D folds into 16 panels in three columns (camera | right hand | left hand), not 57 rows", () => {
    const fig = actionGroupsFigure([{ name: "predicted", points: chunk(2, 57) }], ACTION_LAYOUTS.hand57, { fps: 10 });
    const j = plotlyJson(fig);
    assert.equal(panels(j), 16);
    assert.equal(j.data.length, 57);
    const t = titles(j);
    assert.deepEqual(t.slice(0, 4), [
      "camera translation: x y z",
      "camera rotation (6D): R00 R10 R20 R01 R11 R21",
      "right wrist translation: x y z",
      "right wrist rotation (6D): R00 R10 R20 R01 R11 R21",
    ]);
    assert.deepEqual(t.slice(4, 9), [
      "right thumb tip: x y z",
      "right index tip: x y z",
      "right middle tip: x y z",
      "right ring tip: x y z",
      "right little tip: x y z",
    ]);
    assert.equal(t[15], "left little tip: x y z");
    // right index tip = columns 9 + 9 + 3 .. +2 of [camera(9), right wrist(9), right tips(15), ...]
    const index = j.data.filter((tr) => tr.yaxis === "y6");
    assert.deepEqual(index.map((tr) => (tr.y as number[])[0]), [21, 22, 23]);
    assert.deepEqual(index[0].x, [0, 0.1]);
    // three columns of panels side by side; seven rows at most, so the figure stays short
    assert.deepEqual([domainX(j, "")[0] < 0.34, domainX(j, "3")[0] > 0.33, domainX(j, "10")[0] > 0.66], [
      true,
      true,
      true,
    ]);
    assert.ok((j.layout.height as number) < 1600, `height ${j.layout.height}`);
    const perDimension = plotlyJson(timeSeriesFigure([{ name: "predicted", points: chunk(2, 57) }]));
    assert.ok((perDimension.layout.height as number) > 6000, "the per-dimension chart it replaces");
  });

  test("AgiBot 29D: head pose, then each arm with its gripper, as three columns", () => {
    const j = plotlyJson(actionGroupsFigure([{ name: "p", points: chunk(2, 29) }], ACTION_LAYOUTS.agibot29));
    assert.deepEqual(titles(j).map((x) => x.split(":")[0]), [
      "head translation",
      "head rotation (6D)",
      "right arm translation",
      "right arm rotation (6D)",
      "right arm gripper",
      "left arm translation",
      "left arm rotation (6D)",
      "left arm gripper",
    ]);
    assert.deepEqual(j.data.filter((t) => t.yaxis === "y5").map((t) => (t.y as number[])[0]), [18]);
    assert.deepEqual(j.data.filter((t) => t.yaxis === "y8").map((t) => (t.y as number[])[0]), [28]);
  });

  test("two trajectories: same column colour, different dash, one legend entry each; NaN named by its column", () => {
    const given = chunk(2, 10);
    given[1][4] = Number.NaN;
    const fig = actionGroupsFigure(
      [{ name: "predicted", points: chunk(2, 10) }, { name: "given", points: given }],
      ACTION_LAYOUTS.arm10,
    );
    const j = plotlyJson(fig);
    assert.equal(j.data.length, 20);
    const [a, b] = [j.data[0].line, j.data[1].line] as { color: string; dash: string }[];
    assert.equal(a.color, b.color);
    assert.notEqual(a.dash, b.dash);
    assert.deepEqual(j.data.filter((t) => t.showlegend).map((t) => t.name), ["predicted", "given"]);
    assert.deepEqual(fig.notes?.skipped.map((s) => s.item), ["given step 1: rotation R10"]);
  });

  test("show() on a rollout with both spaces charts the raw one by its layout and says so", async () => {
    const cap = captureDisplays();
    try {
      await show({
        mode: "policy",
        embodiment: "droid",
        actions: chunk(2, 10),
        actionSpaces: {
          role: "predicted",
          normalized: chunk(2, 10),
          raw: chunk(2, 10).map((r) => r.map((x) => x / 2)),
          charted: "raw",
        },
        backend: "x",
      });
    } finally {
      cap.restore();
    }
    const plots = cap.sent.map((c) => c.bundle["application/vnd.plotly.v1+json"]).filter(Boolean) as Json[];
    assert.equal(plots.length, 2);
    assert.equal((plots[0].layout.title as { text: string }).text, "Predicted actions (raw units)");
    assert.deepEqual(titles(plots[0]).map((x) => x.split(":")[0]), ["translation", "rotation (6D)", "gripper"]);
    assert.deepEqual(plots[0].data[1].y, [0.5, 500.5], "the raw chunk, column 1");
    assert.equal((plots[1].layout.title as { text: string }).text, "translation per step (raw units)");
    const text = cap.sent.map((c) => String(c.bundle["text/plain"] ?? "")).join("\n");
    assert.match(text, /2 predicted steps × 10D \(raw\)/);
  });
});

describe("plotly bundle", () => {
  test("carries the plotly MIME type, an HTML fallback and plotly.js embedded only once", () => {
    assert.ok(findPlotlyJs(), "node_modules/plotly.js/dist/plotly.min.js");
    resetPlotlyEmbedding();
    const fig = gripperFigure([{ name: "g", values: [0, 1] }]);
    const first = plotlyBundle(fig);
    const second = plotlyBundle(fig);
    assert.deepEqual(Object.keys(first).sort(), ["application/vnd.plotly.v1+json", "text/html", "text/plain"]);
    const h1 = str(first, "text/html");
    const h2 = str(second, "text/html");
    assert.ok(h1.length > 1_000_000 && /plotly\.js v\d/.test(h1), "first HTML embeds plotly.min.js");
    assert.ok(h2.length < 10_000 && !/plotly\.js v\d/.test(h2), "second HTML reuses it");
    assert.match(h2, /Plotly\.newPlot/);
    const id = h2.match(/<div class="cosmos-plot" id="([^"]+)"/)?.[1];
    assert.ok(id && h2.includes(JSON.stringify(id)));
    assert.ok(plotlyBundle(fig, { embed: "always" })["text/html"].toString().length > 1_000_000);
    assert.equal(str(first, "text/plain"), `<plot "Gripper": 1 traces (g)>`);
  });
  test("figure JSON cannot close the script tag", () => {
    const html = str(
      plotlyBundle(gripperFigure([{ name: "</script><b>", values: [1] }]), { embed: "never" }),
      "text/html",
    );
    assert.equal(html.match(/<\/script>/g)?.length, 1);
    assert.match(html, /\\u003c\/script>\\u003cb>/);
  });
});
