/**
 * plotly.js figures for action trajectories (3D end-effector path, per-dimension time series,
 * gripper state, 2D bird's-eye waypoints for driving, several trajectories overlaid) and their
 * MIME bundle: `application/vnd.plotly.v1+json` for JupyterLab / VS Code plus a `text/html`
 * fallback that embeds plotly.js once per kernel session (later plots reuse the loaded script),
 * so nbconvert HTML renders offline too.
 *
 * Action chunks from a model can hold NaN, Infinity or null: such a value is plotted as a gap
 * (null), every other value is drawn, and the figure carries a note (a plotly annotation, and
 * `notes` listed under the HTML and in `text/plain`) saying which steps and dimensions.
 *
 * @example
 * ```ts
 * import { showPlot, trajectory3dFigure } from "./plotly.ts";
 * await showPlot(trajectory3dFigure([
 *   { name: "predicted", points: [[0, 0, 0], [0.1, 0.05, 0.2], [0.2, 0.1, 0.3]] },
 *   { name: "given", points: [[0, 0, 0], [0.12, 0.04, 0.18], [0.21, 0.12, 0.28]] },
 * ]));
 * ```
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { ValidationError } from "../src/errors.ts";
import { type ActionGroup, type ActionLayout, layoutColumnNames } from "../src/schema/embodiments.ts";
import { display } from "./runtime.ts";
import { type Displayable, displayable, escapeHtml, type MimeBundle, uniqueId } from "./mime.ts";
import { hasNotes, type ItemProblem, notesHtml, notesText, type RenderNotes } from "./notes.ts";

/** A plotly trace (`{ type: "scatter3d", x, y, z, ... }`); plain JSON. */
export type PlotlyTrace = { type: string; name?: string } & Record<string, unknown>;

/** A plotly figure: traces, layout and config (plain JSON). */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
  /** What could not be drawn (bad values); shown under the plot, not sent to plotly. */
  notes?: RenderNotes;
}

/** A named series of points (rows); e.g. predicted vs given. */
export interface NamedTrajectory {
  name: string;
  /** One row per time step; a NaN, Infinity or null (JSON's NaN) is drawn as a gap. */
  points: readonly (readonly (number | null)[])[];
}

/** Colours used for overlaid trajectories (first = predicted, second = given, …). */
export const TRACE_COLORS: readonly string[] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

const DEFAULT_CONFIG = { responsive: true, displaylogo: false };

/** Trajectories with every non-finite or missing value as null (a gap), and the note on them. */
interface Cleaned {
  trajs: { name: string; points: (number | null)[][] }[];
  notes: RenderNotes;
}

/**
 * Keeps every finite value of the first `cols` columns; a NaN / Infinity / null / missing value
 * becomes null (plotly draws a gap) and is listed (`name step j: d1, d3`). Only "nothing to plot at all" is an error: that is the
 * caller's mistake, not the model's.
 */
function clean(
  trajs: readonly NamedTrajectory[],
  cols: number,
  what: string,
  invalid?: readonly ItemProblem[],
  names?: readonly string[],
): Cleaned {
  if (trajs.length === 0) {
    throw new ValidationError([{
      field: "trajectories",
      value: trajs,
      allowed: "≥ 1 trajectory",
      message: `nothing to plot`,
    }]);
  }
  const notes: RenderNotes = { skipped: [...(invalid ?? [])], flagged: [] };
  const out = trajs.map((t) => ({
    name: t.name,
    points: t.points.map((p, j) => {
      // Exactly the columns the figure draws: extra ones are ignored, missing ones are gaps.
      const row = Array.from({ length: cols }, (_, k) => {
        const v = p?.[k];
        return typeof v === "number" && Number.isFinite(v) ? v : null;
      });
      const bad = row.flatMap((v, k) => (v === null ? [k] : []));
      if (bad.length) {
        const missing = bad.filter((k) => k >= (p?.length ?? 0));
        notes.skipped.push({
          item: `${t.name} step ${j}: ${bad.map((k) => names?.[k] ?? `d${k}`).join(", ")}`,
          problem: missing.length === bad.length ? `missing (needs ${what})` : "not a number (NaN, Infinity or null)",
        });
      }
      return row;
    }),
  }));
  return { trajs: out, notes };
}

/** The figure's plotly annotation for its notes (a visible line above the plot area). */
function withNotes(fig: PlotlyFigure, notes: RenderNotes): PlotlyFigure {
  if (!hasNotes(notes)) return fig;
  const n = notes.skipped.length;
  const annotation = {
    text: `⚠ ${n} value${n === 1 ? "" : "s"} not drawn (see the note below the plot)`,
    xref: "paper",
    yref: "paper",
    x: 0,
    y: 1.02,
    xanchor: "left",
    yanchor: "bottom",
    showarrow: false,
    font: { color: "#8a4b00", size: 12 },
  };
  const annotations = [...((fig.layout.annotations as unknown[] | undefined) ?? []), annotation];
  return { ...fig, layout: { ...fig.layout, annotations }, notes };
}

const col = (pts: readonly (readonly (number | null)[])[], k: number) => pts.map((p) => p[k] ?? null);

/**
 * Column `k` of a cleaned trajectory as a line over steps (seconds with `fps`), on the axes and with the line
 * style `place` gives; traces of one trajectory share its legend group.
 */
function columnLine(
  t: Cleaned["trajs"][number],
  k: number,
  fps: number | undefined,
  place: { showlegend: boolean; xaxis: string; yaxis: string; line: Record<string, unknown>; hovertemplate?: string },
): PlotlyTrace {
  return {
    type: "scatter",
    mode: "lines",
    name: t.name,
    legendgroup: t.name,
    showlegend: place.showlegend,
    x: t.points.map((_, j) => (fps ? j / fps : j)),
    y: col(t.points, k),
    xaxis: place.xaxis,
    yaxis: place.yaxis,
    line: place.line,
    ...(place.hovertemplate === undefined ? {} : { hovertemplate: place.hovertemplate }),
  };
}

/** Options of the figure builders. */
export interface FigureOptions {
  title?: string;
  /** Height in pixels. */
  height?: number;
  /** Items the parser already left out (`parsed.invalid`), listed in the note. */
  invalid?: readonly ItemProblem[];
}

/**
 * A 3D end-effector path per trajectory (lines + markers; start ○ and end ◆ marked).
 * Points are `[x, y, z, ...]`; extra columns are ignored.
 * @example
 * ```ts
 * import { trajectory3dFigure } from "./plotly.ts";
 * trajectory3dFigure([{ name: "ee", points: [[0, 0, 0], [1, 1, 1]] }]).data[0].type; // "scatter3d"
 * ```
 */
export function trajectory3dFigure(trajs: readonly NamedTrajectory[], o: FigureOptions = {}): PlotlyFigure {
  const { trajs: clean3, notes } = clean(trajs, 3, "x, y, z", o.invalid);
  const data: PlotlyTrace[] = clean3.map((t, i) => ({
    type: "scatter3d",
    mode: "lines+markers",
    name: t.name,
    x: col(t.points, 0),
    y: col(t.points, 1),
    z: col(t.points, 2),
    line: { color: TRACE_COLORS[i % TRACE_COLORS.length], width: 5 },
    marker: {
      size: t.points.map((_, j) => (j === 0 || j === t.points.length - 1 ? 6 : 2.5)),
      symbol: t.points.map((_, j) => (j === t.points.length - 1 ? "diamond" : "circle")),
      color: TRACE_COLORS[i % TRACE_COLORS.length],
    },
  }));
  return withNotes({
    data,
    layout: {
      title: { text: o.title ?? "End-effector path" },
      height: o.height ?? 480,
      margin: { l: 0, r: 0, t: 40, b: 0 },
      scene: {
        xaxis: { title: { text: "x" } },
        yaxis: { title: { text: "y" } },
        zaxis: { title: { text: "z" } },
        aspectmode: "data",
      },
      legend: { orientation: "h" },
    },
    config: DEFAULT_CONFIG,
  }, notes);
}

/** Options of {@link timeSeriesFigure}. */
export interface TimeSeriesOptions extends FigureOptions {
  /** Names of the dimensions (default `d0, d1, …`). */
  dimNames?: readonly string[];
  /** Which dimensions to plot (default all). */
  dims?: readonly number[];
  /** Steps per second: the x axis is in seconds when given, in steps otherwise. */
  fps?: number;
}

/**
 * One subplot per action dimension, each trajectory overlaid (shared x axis).
 * @example
 * ```ts
 * import { timeSeriesFigure } from "./plotly.ts";
 * const f = timeSeriesFigure([{ name: "pred", points: [[0, 1], [1, 2]] }]);
 * f.data.length; // 2 (one trace per dimension)
 * ```
 */
export function timeSeriesFigure(trajs: readonly NamedTrajectory[], o: TimeSeriesOptions = {}): PlotlyFigure {
  // As wide as the widest row: a short row (a model mistake) shows as gaps, not fewer plots.
  const width = Math.max(1, ...trajs.flatMap((t) => t.points.map((p) => p?.length ?? 0)));
  const cleaned = clean(trajs, width, "one value per dimension", o.invalid);
  const dims = o.dims ?? Array.from({ length: width }, (_, k) => k);
  for (const d of dims) {
    if (!(Number.isInteger(d) && d >= 0 && d < width)) {
      throw new ValidationError([{
        field: "dims",
        value: d,
        allowed: `0..${width - 1}`,
        message: "no such dimension",
      }]);
    }
  }
  const data: PlotlyTrace[] = [];
  const layout: Record<string, unknown> = {
    title: { text: o.title ?? "Actions per dimension" },
    height: o.height ?? Math.max(300, 110 * dims.length + 80),
    margin: { l: 60, r: 10, t: 40, b: 40 },
    grid: { rows: dims.length, columns: 1, pattern: "coupled" },
    showlegend: true,
    legend: { orientation: "h" },
  };
  dims.forEach((d, row) => {
    const axis = row === 0 ? "" : String(row + 1);
    cleaned.trajs.forEach((t, i) => {
      data.push(columnLine(t, d, o.fps, {
        showlegend: row === 0,
        xaxis: "x",
        yaxis: `y${axis}`,
        line: { color: TRACE_COLORS[i % TRACE_COLORS.length] },
      }));
    });
    layout[`yaxis${axis}`] = { title: { text: o.dimNames?.[d] ?? `d${d}` } };
  });
  layout.xaxis = { title: { text: o.fps ? "time (s)" : "step" } };
  return withNotes({ data, layout, config: DEFAULT_CONFIG }, cleaned.notes);
}

/** Colours of the columns inside one panel (x, y, z, … of a group); trajectories differ by dash. */
const COLUMN_COLORS: readonly string[] = ["#d62728", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2"];
const TRAJECTORY_DASHES: readonly string[] = ["solid", "dash", "dot", "dashdot"];
/** Pixels of one panel, of the title above it and of the tick labels below it. */
const PANEL_PX = 140, TITLE_PX = 30, TICKS_PX = 26;

/** Options of {@link actionGroupsFigure}. */
export interface ActionGroupsOptions extends FigureOptions {
  /** Steps per second: the x axes are in seconds when given, in steps otherwise. */
  fps?: number;
}

/**
 * Action chunks drawn by their embodiment's layout (src/schema/embodiments.ts `ACTION_LAYOUTS`):
 * one panel per group (translation x/y/z, 6D rotation, gripper, each fingertip), one column of
 * panels per body part (camera | right hand | left hand for the 57D hand pose), so a wide chunk
 * folds into a grid instead of one panel per dimension. Inside a panel each column has its colour
 * (named in the panel title); trajectories are told apart by dash (solid, dashed, …).
 * @example
 * ```ts
 * import { actionGroupsFigure } from "./plotly.ts";
 * import { ACTION_LAYOUTS } from "../src/schema/embodiments.ts";
 * const row = [0.01, 0, 0, 1, 0, 0, 0, 1, 0, 1];
 * const f = actionGroupsFigure([{ name: "predicted", points: [row, row] }], ACTION_LAYOUTS.arm10);
 * f.data.length; // 10: one trace per column
 * ```
 */
export function actionGroupsFigure(
  trajs: readonly NamedTrajectory[],
  layout: ActionLayout,
  o: ActionGroupsOptions = {},
): PlotlyFigure {
  const names = layoutColumnNames(layout);
  const cleaned = clean(trajs, names.length, `${names.length} values per row`, o.invalid, names);
  const parts = [...new Set(layout.groups.map((g) => g.part))];
  const columnsOfParts = parts.map((p) => layout.groups.filter((g) => g.part === p));
  const rows = Math.max(...columnsOfParts.map((c) => c.length));
  const margin = { l: 50, r: 10, t: 60, b: 40 };
  const height = o.height ?? margin.t + margin.b + rows * (PANEL_PX + TITLE_PX + TICKS_PX);
  const plotPx = height - margin.t - margin.b;
  const rowFrac = 1 / rows, titleFrac = TITLE_PX / plotPx, ticksFrac = TICKS_PX / plotPx;
  const colFrac = 1 / parts.length;
  const data: PlotlyTrace[] = [];
  const fig: Record<string, unknown> = {
    title: { text: o.title ?? "Actions by group" },
    height,
    margin,
    showlegend: true,
    legend: { orientation: "h", y: 1, yanchor: "bottom", x: 1, xanchor: "right" },
  };
  const annotations: Record<string, unknown>[] = [];
  // Where each group's first value sits in a row: groups are stored in row order.
  const firstColumn = new Map<ActionGroup, number>();
  layout.groups.reduce((at, g) => (firstColumn.set(g, at), at + g.columns.length), 0);
  let panel = 0;
  columnsOfParts.forEach((groups, c) => {
    groups.forEach((g, r) => {
      panel += 1;
      const n = panel === 1 ? "" : String(panel);
      const top = 1 - r * rowFrac, bottom = 1 - (r + 1) * rowFrac;
      const x0 = c * colFrac + (parts.length > 1 ? 0.03 : 0), x1 = (c + 1) * colFrac - 0.02;
      fig[`xaxis${n}`] = {
        domain: [x0, x1],
        anchor: `y${n}`,
        ...(panel === 1 ? {} : { matches: "x" }),
        ...(r === groups.length - 1 ? { title: { text: o.fps ? "time (s)" : "step" } } : {}),
      };
      fig[`yaxis${n}`] = { domain: [bottom + ticksFrac, top - titleFrac], anchor: `x${n}` };
      const key = g.columns.length === 1 ? "" : ": " +
        g.columns.map((name, k) => `<span style="color:${COLUMN_COLORS[k % COLUMN_COLORS.length]}">${name}</span>`)
          .join(" ");
      annotations.push({
        text: `<b>${escapeHtml(g.label)}</b>${key}`,
        xref: "paper",
        yref: "paper",
        x: (x0 + x1) / 2,
        y: top - titleFrac + 0.2 * titleFrac,
        xanchor: "center",
        yanchor: "bottom",
        showarrow: false,
        font: { size: 12 },
      });
      const start = firstColumn.get(g)!;
      g.columns.forEach((_, k) => {
        cleaned.trajs.forEach((t, i) => {
          data.push(columnLine(t, start + k, o.fps, {
            // One legend entry per trajectory (its dash); columns are named in the panel titles.
            showlegend: panel === 1 && k === 0,
            xaxis: `x${n}`,
            yaxis: `y${n}`,
            line: {
              color: COLUMN_COLORS[k % COLUMN_COLORS.length],
              dash: TRAJECTORY_DASHES[i % TRAJECTORY_DASHES.length],
              ...(g.kind === "gripper" ? { shape: "hv" } : {}),
            },
            hovertemplate: `${escapeHtml(names[start + k])}: %{y}<extra>${escapeHtml(t.name)}</extra>`,
          }));
        });
      });
    });
  });
  fig.annotations = annotations;
  return withNotes({ data, layout: fig, config: DEFAULT_CONFIG }, cleaned.notes);
}

/**
 * Gripper state over time as a step line, in Cosmos 3's convention: 1 = open, 0 = closed (cosmos-framework
 * `data/generator/action/agibot_fk.py:359`; README.md "Differences from the Cosmos 3 README").
 * @example
 * ```ts
 * import { gripperFigure } from "./plotly.ts";
 * gripperFigure([{ name: "pred", values: [0, 0, 1, 1] }]).data[0].line; // { shape: "hv", ... }
 * ```
 */
export function gripperFigure(
  series: readonly { name: string; values: readonly (number | null)[] }[],
  o: FigureOptions & { fps?: number } = {},
): PlotlyFigure {
  const cleaned = clean(
    series.map((s) => ({ name: s.name, points: s.values.map((v) => [v]) })),
    1,
    "gripper value",
    o.invalid,
  );
  return withNotes({
    data: cleaned.trajs.map((s, i) => ({
      type: "scatter",
      mode: "lines",
      name: s.name,
      x: s.points.map((_, j) => (o.fps ? j / o.fps : j)),
      y: col(s.points, 0),
      line: { shape: "hv", color: TRACE_COLORS[i % TRACE_COLORS.length], width: 3 },
    })),
    layout: {
      title: { text: o.title ?? "Gripper" },
      height: o.height ?? 260,
      margin: { l: 60, r: 10, t: 40, b: 40 },
      xaxis: { title: { text: o.fps ? "time (s)" : "step" } },
      yaxis: { title: { text: "closed (0) ↔ open (1)" } },
    },
    config: DEFAULT_CONFIG,
  }, cleaned.notes);
}

/**
 * Bird's-eye view of 2D waypoints (driving): `[x, y]` per step, equal axis scales, the ego
 * start marked. Several trajectories overlay (e.g. predicted vs given).
 * @example
 * ```ts
 * import { birdsEyeFigure } from "./plotly.ts";
 * birdsEyeFigure([{ name: "plan", points: [[0, 0], [1, 5], [3, 10]] }]).layout.yaxis; // scaleanchor "x"
 * ```
 */
export function birdsEyeFigure(trajs: readonly NamedTrajectory[], o: FigureOptions = {}): PlotlyFigure {
  const { trajs: clean2, notes } = clean(trajs, 2, "x, y", o.invalid);
  const data: PlotlyTrace[] = clean2.map((t, i) => ({
    type: "scatter",
    mode: "lines+markers",
    name: t.name,
    x: col(t.points, 0),
    y: col(t.points, 1),
    line: { color: TRACE_COLORS[i % TRACE_COLORS.length], width: 3 },
    marker: { size: 6 },
  }));
  const start = clean2[0].points.find((p) => p[0] !== null && p[1] !== null); // the first drawable point
  data.push({
    type: "scatter",
    mode: "markers",
    name: "start",
    x: [start?.[0] ?? 0],
    y: [start?.[1] ?? 0],
    marker: { size: 14, symbol: "triangle-up", color: "#333" },
  });
  return withNotes({
    data,
    layout: {
      title: { text: o.title ?? "Waypoints (bird's-eye)" },
      height: o.height ?? 480,
      margin: { l: 60, r: 10, t: 40, b: 40 },
      xaxis: { title: { text: "x (m)" } },
      yaxis: { title: { text: "y (m)" }, scaleanchor: "x", scaleratio: 1 },
    },
    config: DEFAULT_CONFIG,
  }, notes);
}

// --- plotly.js embedding -------------------------------------------------------

let embedded = false;
let cachedScript: string | undefined;

/**
 * Forgets that plotly.js was embedded, so the next plot embeds it again (e.g. after clearing
 * the outputs of the cell that carried it).
 * @example
 * ```ts
 * import { resetPlotlyEmbedding } from "./plotly.ts";
 * resetPlotlyEmbedding();
 * ```
 */
export function resetPlotlyEmbedding(): void {
  embedded = false;
}

/**
 * Path of `plotly.min.js`: `COSMOS_PLOTLY_JS`, else `node_modules/plotly.js/dist/plotly.min.js`
 * in the working directory or a parent; undefined when not found.
 * @example
 * ```ts
 * import { findPlotlyJs } from "./plotly.ts";
 * console.log(findPlotlyJs());
 * ```
 */
export function findPlotlyJs(from: string = process.cwd()): string | undefined {
  const env = process.env.COSMOS_PLOTLY_JS;
  if (env && existsSync(env)) return env;
  let dir = resolve(from);
  for (;;) {
    const p = join(dir, "node_modules", "plotly.js", "dist", "plotly.min.js");
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function plotlyScript(): string | undefined {
  if (cachedScript === undefined) {
    const path = findPlotlyJs();
    if (!path) return undefined;
    cachedScript = readFileSync(path, "utf8").replace(/<\/script/gi, "<\\/script");
  }
  return cachedScript;
}

/** Options of {@link plotlyBundle}. */
export interface PlotlyBundleOptions {
  /**
   * Embed plotly.js in the HTML fallback: `"auto"` (default) the first time in this kernel
   * session, `"always"`, or `"never"` (the page must load plotly.js itself).
   */
  embed?: "auto" | "always" | "never";
}

/**
 * The MIME bundle of a figure: plotly JSON, an HTML fallback (`<div>` + script; plotly.js
 * embedded once per session) and a `text/plain` summary; a figure's `notes` (bad values) are
 * listed under the HTML and in the summary.
 * @example
 * ```ts
 * import { gripperFigure, plotlyBundle } from "./plotly.ts";
 * const b = plotlyBundle(gripperFigure([{ name: "g", values: [0, 1] }]));
 * Object.keys(b); // ["application/vnd.plotly.v1+json", "text/html", "text/plain"]
 * ```
 */
export function plotlyBundle(fig: PlotlyFigure, o: PlotlyBundleOptions = {}): MimeBundle {
  const embed = o.embed ?? "auto";
  const id = uniqueId("cosmos-plot");
  const json = JSON.stringify({ data: fig.data, layout: fig.layout, config: fig.config ?? DEFAULT_CONFIG })
    .replace(/</g, "\\u003c");
  let lib = "";
  if (embed === "always" || (embed === "auto" && !embedded)) {
    const script = plotlyScript();
    if (script) {
      lib = `<script type="text/javascript">${script}</script>`;
      embedded = true;
    } else {
      lib = `<!-- plotly.js not found: set COSMOS_PLOTLY_JS or install plotly.js -->`;
    }
  }
  const height = typeof fig.layout.height === "number" ? fig.layout.height : 450;
  const html = `<div class="cosmos-plot" id="${id}" style="width:100%;min-height:${height}px"></div>${lib}` +
    `<script type="text/javascript">(function(){var fig=${json};var tries=0;function draw(){` +
    `var el=document.getElementById(${JSON.stringify(id)});if(!el)return;` +
    `if(window.Plotly){window.Plotly.newPlot(el,fig.data,fig.layout,fig.config);}` +
    `else if(++tries<100){setTimeout(draw,100);}` +
    `else{el.textContent="plotly.js is not loaded on this page: re-run the notebook from the top.";}}draw();})();</script>`;
  const names = fig.data.map((t) => t.name).filter((n): n is string => Boolean(n));
  const title = (fig.layout.title as { text?: string } | undefined)?.text ?? "plot";
  const notes = fig.notes ?? { skipped: [], flagged: [] };
  const noteText = notesText(notes);
  return {
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout, config: fig.config ?? DEFAULT_CONFIG },
    "text/html": html + notesHtml(notes, "value"),
    "text/plain": `<plot "${escapeHtml(title)}": ${fig.data.length} traces (${[...new Set(names)].join(", ")})>${
      noteText ? `\n${noteText}` : ""
    }`,
  };
}

/**
 * A figure as a value that renders itself in Deno's kernel.
 * @example
 * ```ts
 * import { gripperFigure, plot } from "./plotly.ts";
 * plot(gripperFigure([{ name: "g", values: [0, 1, 1] }])); // last expression of a Deno cell
 * ```
 */
export function plot(fig: PlotlyFigure, o: PlotlyBundleOptions = {}): Displayable {
  return displayable(plotlyBundle(fig, o));
}

/**
 * Shows a figure in the notebook.
 * @example
 * ```ts
 * import { birdsEyeFigure, showPlot } from "./plotly.ts";
 * await showPlot(birdsEyeFigure([{ name: "plan", points: [[0, 0], [0.5, 4], [2, 9]] }]));
 * ```
 */
export async function showPlot(fig: PlotlyFigure, o: PlotlyBundleOptions = {}): Promise<void> {
  await display(plotlyBundle(fig, o));
}
