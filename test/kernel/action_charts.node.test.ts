// The grouped action charts (issue 13 item 4) drawn by plotly.js in headless Chromium
// (playwright-core, /usr/bin/chromium), from the same HTML bundle a notebook gets: every panel
// of the 57D hand pose is drawn with its title, the panels do not overlap, and the page stays
// short. Node only. Set COSMOS_KEEP_SCREENSHOT=/tmp/x.png to keep a screenshot of the page.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { actionGroupsFigure, plotlyBundle } from "../../kernel/plotly.ts";
import { ACTION_LAYOUTS } from "../../src/schema/embodiments.ts";

interface Drawn {
  /** Subplot rectangles plotly drew: [x, y, width, height] in page pixels. */
  panels: [number, number, number, number][];
  titles: string[];
  lines: number;
  pageHeight: number;
}

// Panel rectangles from plotly's own layout of the drawn graph (each subplot's axis offsets and lengths).
const PROBE = `(() => {
  const gd = document.querySelector(".cosmos-plot");
  const plots = Object.values(gd._fullLayout._plots);
  return {
    panels: plots.map((p) => [p.xaxis._offset, p.yaxis._offset, p.xaxis._length, p.yaxis._length]),
    titles: [...gd.querySelectorAll(".annotation-text")].map((t) => t.textContent),
    lines: gd.querySelectorAll(".scatterlayer .trace").length,
    pageHeight: document.body.scrollHeight,
  };
})()`;

describe("grouped action charts in Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "cosmos-action-chart-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("57D hand pose: 16 titled panels in three columns, none overlapping, under 1600 px", async () => {
    const rows = Array.from({ length: 16 }, (_, t) => Array.from({ length: 57 }, (_, d) => Math.sin(t / 3 + d)));
    const fig = actionGroupsFigure([{ name: "predicted", points: rows }], ACTION_LAYOUTS.hand57, {
      fps: 10,
      title: "Predicted actions (raw units)",
    });
    const bundle = plotlyBundle(fig, { embed: "always" });
    const page = join(dir, "hand57.html");
    writeFileSync(page, `<!doctype html><html><body style="margin:0">${bundle["text/html"]}</body></html>`);
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    try {
      const tab = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      // A busy CI machine parses the 4.6 MB of plotly.js slowly: generous time, the checks are about layout.
      await tab.goto(`file://${page}`, { waitUntil: "domcontentloaded", timeout: 180_000 });
      await tab.waitForFunction(`document.querySelectorAll(".cosmos-plot .scatterlayer .trace").length >= 57`, null, {
        timeout: 180_000,
      });
      const seen = await tab.evaluate(PROBE) as Drawn;
      assert.equal(seen.panels.length, 16);
      assert.equal(seen.lines, 57, "one line per column");
      for (const name of ["camera translation", "right index tip", "left little tip", "left wrist rotation (6D)"]) {
        assert.ok(seen.titles.some((t) => t.startsWith(name)), `title "${name}" in ${seen.titles.join(" | ")}`);
      }
      const xs = [...new Set(seen.panels.map((p) => Math.round(p[0])))];
      assert.equal(xs.length, 3, "three columns of panels");
      for (let i = 0; i < seen.panels.length; i++) {
        const [ax, ay, aw, ah] = seen.panels[i];
        assert.ok(aw > 200 && ah > 80, `panel ${i} is ${aw}x${ah}`);
        for (let j = i + 1; j < seen.panels.length; j++) {
          const [bx, by, bw, bh] = seen.panels[j];
          const apart = ax + aw <= bx || bx + bw <= ax || ay + ah <= by || by + bh <= ay;
          assert.ok(apart, `panels ${i} and ${j} overlap`);
        }
      }
      assert.ok(seen.pageHeight < 1600, `page height ${seen.pageHeight}`);
      const shot = process.env.COSMOS_KEEP_SCREENSHOT;
      if (shot) await tab.screenshot({ path: shot, fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
