/**
 * Draws one state of the world with the software rasteriser: wall, floor and table, a shadow
 * under every object, the objects (flat-shaded: see palette.ts), the robot (a grey column and
 * two links from behind the table, a dark gripper whose fingers open and close) — far things
 * first. It also reports, per object, its outline box (from the geometry) and the box of the
 * pixels it really shows (from the rasteriser's id buffer): the ground truth of grounding.
 *
 * @example
 * ```ts
 * import { makeScene } from "./scene.ts";
 * import { planScenario, simulate } from "./sim.ts";
 * import { cameraForFrame, renderFrame } from "./render.ts";
 * const scene = makeScene(1);
 * const trace = simulate(scene, planScenario(scene, { frames: 9, fps: 8 }).actions, { fps: 8 });
 * const view = renderFrame(scene, trace.frames[0], cameraForFrame(scene, 0, 9, { width: 320, height: 192 }));
 * view.image.width; // 320
 * view.objects[0].box; // [x1, y1, x2, y2] pixels of what shows of object 0 (null when hidden)
 * ```
 * @module
 */
import { type Camera, cameraAt, project, type Projected, type Vec3 } from "./geometry.ts";
import { FINGER_HALF, FINGER_LENGTH, fingerCenters, PALM_HEIGHT } from "./gripper.ts";
import { OBJECT_COLORS, type Rgb, SCENERY, type Shade, shade } from "./palette.ts";
import { Canvas, convexHull, type Point2, type RgbBuffer } from "./raster.ts";
import { type Scene, TABLE_AREA, type WorldObject } from "./scene.ts";
import type { FrameState } from "./sim.ts";

/** Image size in pixels. */
export interface Size {
  width: number;
  height: number;
}

/** What one object looks like in a frame. */
export interface ObjectView {
  id: number;
  /** Pixel box [x1, y1, x2, y2] of its visible pixels (x2, y2 exclusive), or null when nothing shows. */
  box: [number, number, number, number] | null;
  /** Visible pixel count. */
  pixels: number;
  /** Box of its whole outline (continuous pixel coordinates, clipped to the image), occluded or not. */
  outline: [number, number, number, number] | null;
}

export interface RenderedFrame {
  image: RgbBuffer;
  objects: ObjectView[];
  /** The TCP (between the fingertips) in the image. */
  gripper: { u: number; v: number };
}

/** Robot geometry (m): the column stands behind the table. */
export const ROBOT = Object.freeze({
  base: [0, 0.98, 0] as Vec3,
  shoulderZ: 0.36,
  upper: 0.42,
  fore: 0.42,
  linkWidth: 0.045,
});

/** Ids in the id buffer: objects use their index; robot parts and shadows these. */
const ROBOT_ID = 100;
const SHADOW_ID = 101;

/** The camera of frame `k` of `n` (the scene's orbit, linear in time). */
export function cameraForFrame(scene: Scene, k: number, n: number, size: Size): Camera {
  const u = n > 1 ? k / (n - 1) : 0;
  return cameraAt({
    width: size.width,
    height: size.height,
    orbitDeg: scene.camera.fromDeg + (scene.camera.toDeg - scene.camera.fromDeg) * u,
  });
}

const LIGHT: [number, number] = [-0.447, -0.894]; // from the front left, seen from above

function sideShade(nx: number, ny: number): Shade {
  return nx * LIGHT[0] + ny * LIGHT[1] > 0 ? "lit" : "dark";
}

const pt = (p: Projected): Point2 => [p.u, p.v];

/** A drawable solid: its depth for ordering, its outline points and how to paint it. */
interface Item {
  depth: number;
  id: number;
  outline: Point2[];
  paint: (c: Canvas) => void;
}

/** An upright box turned by `yaw`: half sizes hx (along yaw) and hy, from z0 to z1. */
function boxItem(
  cam: Camera,
  cx: number,
  cy: number,
  z0: number,
  z1: number,
  hx: number,
  hy: number,
  yaw: number,
  color: Rgb,
  id: number,
): Item {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  const corners = ([[-1, -1], [1, -1], [1, 1], [-1, 1]] as const).map(([a, b]) =>
    [cx + c * a * hx - s * b * hy, cy + s * a * hx + c * b * hy] as const
  );
  const bottom = corners.map(([x, y]) => project(cam, [x, y, z0]));
  const top = corners.map(([x, y]) => project(cam, [x, y, z1]));
  const faces: { pts: Point2[]; shade: Shade }[] = [];
  for (let i = 0; i < 4; i++) {
    const j = (i + 1) % 4;
    const [ax, ay] = corners[i];
    const [bx, by] = corners[j];
    // outward normal of the edge (corners run counter-clockwise seen from above)
    const len = Math.hypot(bx - ax, by - ay);
    const nx = (by - ay) / len;
    const ny = -(bx - ax) / len;
    const mx = (ax + bx) / 2;
    const my = (ay + by) / 2;
    const toCam = (cam.position[0] - mx) * nx + (cam.position[1] - my) * ny;
    if (toCam > 0) {
      faces.push({ pts: [pt(bottom[i]), pt(bottom[j]), pt(top[j]), pt(top[i])], shade: sideShade(nx, ny) });
    }
  }
  if (cam.position[2] > z1) faces.push({ pts: top.map(pt), shade: "top" });
  else if (cam.position[2] < z0) faces.push({ pts: bottom.map(pt), shade: "dark" });
  const depth = project(cam, [cx, cy, (z0 + z1) / 2]).depth;
  return {
    depth,
    id,
    outline: [...bottom, ...top].map(pt),
    paint: (cv) => faces.forEach((f) => cv.fillPolygon(f.pts, shade(color, f.shade), id)),
  };
}

function ring(cam: Camera, x: number, y: number, z: number, r: number, n = 24): Point2[] {
  return Array.from(
    { length: n },
    (_, i) => pt(project(cam, [x + r * Math.cos((2 * Math.PI * i) / n), y + r * Math.sin((2 * Math.PI * i) / n), z])),
  );
}

function objectItem(cam: Camera, o: WorldObject, pos: readonly number[]): Item {
  const color = OBJECT_COLORS[o.color];
  const [x, y, z] = pos;
  if (o.shape === "cube") return boxItem(cam, x, y, z, z + o.height, o.radius, o.radius, o.yaw, color, o.id);
  if (o.shape === "cylinder") {
    const bottom = ring(cam, x, y, z, o.radius);
    const top = ring(cam, x, y, z + o.height, o.radius);
    const side = convexHull([...bottom, ...top]);
    return {
      depth: project(cam, [x, y, z + o.height / 2]).depth,
      id: o.id,
      outline: side,
      paint: (cv) => {
        cv.fillPolygon(side, shade(color, "lit"), o.id);
        cv.fillPolygon(top, shade(color, "top"), o.id);
      },
    };
  }
  const c = project(cam, [x, y, z + o.radius]);
  const r = (cam.focal * o.radius) / c.depth;
  return {
    depth: c.depth,
    id: o.id,
    outline: [[c.u - r, c.v - r], [c.u + r, c.v + r]],
    paint: (cv) => {
      cv.fillEllipse(c.u, c.v, r, r, shade(color, "lit"), o.id);
      cv.fillEllipse(c.u - 0.28 * r, c.v - 0.28 * r, 0.5 * r, 0.5 * r, shade(color, "top"), o.id);
    },
  };
}

/** A straight link of width `w` (m) between two points, drawn as a screen-space quad. */
function linkItem(cam: Camera, a: Vec3, b: Vec3, w: number, color: Rgb): Item {
  const pa = project(cam, a);
  const pb = project(cam, b);
  const du = pb.u - pa.u;
  const dv = pb.v - pa.v;
  const len = Math.hypot(du, dv) || 1;
  const wa = (cam.focal * w) / pa.depth / 2;
  const wb = (cam.focal * w) / pb.depth / 2;
  const nu = -dv / len;
  const nv = du / len;
  const quad: Point2[] = [[pa.u + nu * wa, pa.v + nv * wa], [pb.u + nu * wb, pb.v + nv * wb], [
    pb.u - nu * wb,
    pb.v - nv * wb,
  ], [pa.u - nu * wa, pa.v - nv * wa]];
  return {
    depth: (pa.depth + pb.depth) / 2,
    id: ROBOT_ID,
    outline: quad,
    paint: (cv) => {
      cv.fillPolygon(quad, shade(color, "lit"), ROBOT_ID);
      cv.fillEllipse(pa.u, pa.v, wa * 1.15, wa * 1.15, shade(color, "dark"), ROBOT_ID);
      cv.fillEllipse(pb.u, pb.v, wb * 1.15, wb * 1.15, shade(color, "dark"), ROBOT_ID);
    },
  };
}

/** Elbow of the two-link arm from the shoulder to the wrist (elbow up, in their vertical plane). */
function elbow(shoulder: Vec3, wrist: Vec3): Vec3 {
  const hx = wrist[0] - shoulder[0];
  const hy = wrist[1] - shoulder[1];
  const dh = Math.hypot(hx, hy) || 1e-9;
  const dz = wrist[2] - shoulder[2];
  const { upper: l1, fore: l2 } = ROBOT;
  const d = Math.min(Math.hypot(dh, dz), l1 + l2 - 1e-4);
  const a = Math.atan2(dz, dh);
  const b = Math.acos(Math.max(-1, Math.min(1, (l1 * l1 + d * d - l2 * l2) / (2 * l1 * d))));
  return [
    shoulder[0] + (hx / dh) * l1 * Math.cos(a + b),
    shoulder[1] + (hy / dh) * l1 * Math.cos(a + b),
    shoulder[2] + l1 * Math.sin(a + b),
  ];
}

function robotItems(cam: Camera, g: FrameState["gripper"]): Item[] {
  const [bx, by] = ROBOT.base;
  const shoulder: Vec3 = [bx, by, ROBOT.shoulderZ];
  const wrist: Vec3 = [g.pos[0], g.pos[1], g.pos[2] + FINGER_LENGTH + PALM_HEIGHT];
  const e = elbow(shoulder, wrist);
  const items: Item[] = [
    boxItem(cam, bx, by, -0.1, ROBOT.shoulderZ, 0.04, 0.04, 0, SCENERY.arm, ROBOT_ID),
    linkItem(cam, shoulder, e, ROBOT.linkWidth, SCENERY.arm),
    linkItem(cam, e, [wrist[0], wrist[1], wrist[2] + 0.02], ROBOT.linkWidth * 0.8, SCENERY.arm),
  ];
  const palmHalf = g.gap / 2 + 2 * FINGER_HALF + 0.004;
  items.push(
    boxItem(
      cam,
      g.pos[0],
      g.pos[1],
      g.pos[2] + FINGER_LENGTH,
      wrist[2],
      palmHalf,
      0.018,
      g.yaw,
      SCENERY.gripper,
      ROBOT_ID,
    ),
  );
  for (const [fx, fy] of fingerCenters(g, g.gap)) {
    items.push(
      boxItem(cam, fx, fy, g.pos[2], g.pos[2] + FINGER_LENGTH, FINGER_HALF, 0.012, g.yaw, SCENERY.gripper, ROBOT_ID),
    );
  }
  return items;
}

function bounds(points: readonly Point2[], size: Size): [number, number, number, number] | null {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const [u, v] of points) {
    x1 = Math.min(x1, u);
    y1 = Math.min(y1, v);
    x2 = Math.max(x2, u);
    y2 = Math.max(y2, v);
  }
  x1 = Math.max(0, x1);
  y1 = Math.max(0, y1);
  x2 = Math.min(size.width, x2);
  y2 = Math.min(size.height, y2);
  return x2 > x1 && y2 > y1 ? [x1, y1, x2, y2] : null;
}

/** Renders one frame state with a camera. */
export function renderFrame(scene: Scene, state: FrameState, cam: Camera): RenderedFrame {
  const size = { width: cam.width, height: cam.height };
  const cv = new Canvas(cam.width, cam.height, scene.wall);
  // floor: the region below where the floor (z = -0.75) meets the wall (y = 1.4)
  const l = project(cam, [-3, 1.4, -0.75]);
  const r = project(cam, [3, 1.4, -0.75]);
  const slope = (r.v - l.v) / (r.u - l.u);
  const at = (u: number) => l.v + slope * (u - l.u);
  cv.fillPolygon([[-10, at(-10)], [cam.width + 10, at(cam.width + 10)], [cam.width + 10, cam.height + 10], [
    -10,
    cam.height + 10,
  ]], SCENERY.floor);
  const [tx0, tx1] = TABLE_AREA.x;
  const [ty0, ty1] = TABLE_AREA.y;
  const table = [[tx0, ty0], [tx1, ty0], [tx1, ty1], [tx0, ty1]].map(([x, y]) => pt(project(cam, [x, y, 0])));
  const front = [[tx0, 0], [tx1, 0], [tx1, -0.04], [tx0, -0.04]].map(([x, z]) => pt(project(cam, [x, ty0, z])));
  cv.fillPolygon(front, SCENERY.tableEdge);
  cv.fillPolygon(table, scene.table as Rgb);
  const shadowColor: Rgb = [0, 1, 2].map((i) => Math.round(scene.table[i] * SCENERY.shadow)) as unknown as Rgb;
  scene.objects.forEach((o, i) => {
    const [x, y] = state.objects[i].pos;
    cv.fillPolygon(ring(cam, x + 0.01, y + 0.012, 0, o.radius * 1.12, 16), shadowColor, SHADOW_ID);
  });
  const items: Item[] = [
    ...scene.objects.map((o, i) => objectItem(cam, o, state.objects[i].pos)),
    ...robotItems(cam, state.gripper),
  ];
  // far first; equal depths keep the list order (objects before the gripper)
  items.map((it, i) => ({ it, i })).sort((a, b) => b.it.depth - a.it.depth || a.i - b.i).forEach(({ it }) =>
    it.paint(cv)
  );
  // one pass over the id buffer: each object's visible pixel count and box
  const n = scene.objects.length;
  const acc = Array.from({ length: n }, () => ({ x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity, count: 0 }));
  for (let y = 0, p = 0; y < cam.height; y++) {
    for (let x = 0; x < cam.width; x++, p++) {
      const id = cv.ids[p];
      if (id < 0 || id >= n) continue;
      const a = acc[id];
      a.count++;
      if (x < a.x1) a.x1 = x;
      if (x > a.x2) a.x2 = x;
      if (y < a.y1) a.y1 = y;
      if (y > a.y2) a.y2 = y;
    }
  }
  const objects: ObjectView[] = acc.map((a, i) => ({
    id: i,
    box: a.count ? [a.x1, a.y1, a.x2 + 1, a.y2 + 1] : null,
    pixels: a.count,
    outline: bounds(items[i].outline, size),
  }));
  const tcp = project(cam, state.gripper.pos);
  return { image: cv.frame(), objects, gripper: { u: tcp.u, v: tcp.v } };
}
