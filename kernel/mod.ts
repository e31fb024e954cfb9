/**
 * The notebook display layer of cosmos-ts, for Deno's Jupyter kernel and tslab on Node:
 * video with sound, audio, boxes and marked subjects over images, timelines, plotly
 * trajectories, streaming text and progress bars. Each renderer has a pure `…Bundle` builder
 * (a Jupyter MIME bundle) and a `show…` function that displays it; outside a notebook the
 * `text/plain` summary is printed.
 *
 * @example
 * ```ts
 * import { showVideo, showBoxes, streamText, progressBar } from "./mod.ts";
 * await showVideo("assets/videos/pick_place.mp4");
 * await showBoxes("assets/images/tabletop.png", [{ label: "cup", box: [120, 340, 260, 520] }]); // Qwen3-VL 0–1000 grid
 * const bar = progressBar({ label: "denoise", total: 35 });
 * bar.tick();
 * await bar.done();
 * ```
 * @module
 */
export * from "./mime.ts";
export * from "./runtime.ts";
export * from "./live.ts";
export * from "./media.ts";
export * from "./image_input.ts";
export * from "./boxes.ts";
export * from "./timeline.ts";
export * from "./plotly.ts";
export * from "./stream.ts";
export * from "./progress.ts";
export * from "./show.ts";
