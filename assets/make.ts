/**
 * Makes the cookbooks' inputs: synthetic robot-like scenes drawn as SVG, rasterised with sharp
 * and encoded with ffmpeg through src/media. Nothing is downloaded; the outputs are
 * deterministic and git-ignored (see assets/README.md for what each file is).
 *
 * - `images/tabletop.{png,jpg,webp}`: a table with a red cube, a blue bowl, a green can and a
 *   two-link robot arm, 832x480 (the 480p 16:9 conditioning size of the spec).
 * - `videos/pick_place.mp4`: the arm picks up the cube and drops it into the bowl, 832x480,
 *   24 fps, 4 s, H.264 + a 48 kHz stereo AAC track (motor whine panned with the gripper, a click
 *   at the grasp, a thud at the drop).
 * - `images/road.jpg`: the first frame of the driving clip (an AV observation for policy requests).
 * - `images/egocentric.jpg`: the same table seen by a person, both hands in view (an egocentric
 *   observation for policy requests).
 * - `videos/driving.mp4`: a road seen from a car following a lead vehicle, 832x480, 24 fps, 3 s.
 * - `actions/*.json`: one action chunk per embodiment family (single-arm 10D, AV 9D, camera 9D,
 *   egocentric 57D, dual-arm 20D, humanoid 29D), checked against `EMBODIMENTS` from src/schema.
 * - `scene.json`: object boxes (Qwen3-VL 0–1000 grid), event times and the layouts of the chunks.
 * - `images/world_*.png`, `videos/world_*.mp4`, `actions/world_droid_10d.json` and `scene.json`'s
 *   `world` key: clips of the procedural world (`src/world/`, the mini checkpoints' training
 *   world), from held-out evaluation seeds, with their ground truth (boxes, events, chunk,
 *   plausibility). The hand-drawn scenes above stay as they are: the cookbooks' prompts name
 *   their objects (bowl, can).
 *
 * Idempotent: skipped when every output exists and `.stamp` holds the hash of this script and
 * of `src/world/`.
 *
 * @example
 * ```sh
 * node --import tsx assets/make.ts          # make what is missing
 * node --import tsx assets/make.ts --force  # remake everything
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { encodeVideo, writeActionChunk, writeImage } from "../src/media/mod.ts";
import type { RgbFrame } from "../src/media/mod.ts";
import { type EmbodimentId, EMBODIMENTS } from "../src/schema/mod.ts";
import { Prng } from "../src/world/prng.ts";
import {
  COOKBOOK,
  generatorPrompt,
  gridBox,
  makeSample,
  renderClip,
  type SampleOptions,
  SEED_SPLITS,
  SMALL,
  visibleObjects,
  type WorldSample,
  writeClip,
} from "../src/world/mod.ts";

const here = dirname(fileURLToPath(import.meta.url));
const W = 832;
const H = 480;
const FPS = 24;
const RATE = 48_000;

/** Every file this script writes, relative to assets/. */
export const OUTPUTS = [
  "images/tabletop.png",
  "images/tabletop.jpg",
  "images/tabletop.webp",
  "images/road.jpg",
  "images/egocentric.jpg",
  "videos/pick_place.mp4",
  "videos/driving.mp4",
  "actions/droid_10d.json",
  "actions/av_9d.json",
  "actions/camera_pose_9d.json",
  "actions/egocentric_57d.json",
  "actions/dual_droid_20d.json",
  "actions/agibot_29d.json",
  "images/world_tabletop.png",
  "images/world_push_start.png",
  "videos/world_pick_place.mp4",
  "videos/world_push.mp4",
  "videos/world_implausible.mp4",
  "actions/world_droid_10d.json",
  "images/world_tabletop_small.png",
  "videos/world_pick_place_small.mp4",
  "videos/world_floating.mp4",
  "scene.json",
] as const;

// ---------------------------------------------------------------- deterministic noise
/** The world's seeded PRNG (mulberry32, the same numbers this script always drew) as a function. */
function prng(seed: number): () => number {
  const r = new Prng(seed);
  return () => r.next();
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const smooth = (t: number) => t * t * (3 - 2 * t);

/** SVG → RGB frame (sharp / librsvg). */
async function rasterise(svg: string): Promise<RgbFrame> {
  const { data, info } = await sharp(Buffer.from(svg)).flatten({ background: "#000" }).removeAlpha().raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: 3,
  };
}

// ---------------------------------------------------------------- table scene
/** Where things are on the table (pixels). */
const CUBE = { x: 300, y: 262, s: 56 }; // top-left corner and side of the front face
const BOWL = { cx: 560, cy: 300, rx: 70, ry: 22, depth: 44 };
const CAN = { x: 150, y: 236, w: 44, h: 78 };
const SHOULDER = { x: 740, y: 150 };
const L1 = 240;
const L2 = 225;

function tableBackground(): string {
  return `
  <defs>
    <linearGradient id="wall" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#d9dde3"/><stop offset="1" stop-color="#b9bfc8"/></linearGradient>
    <linearGradient id="top" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#a4784f"/><stop offset="1" stop-color="#8a6038"/></linearGradient>
    <linearGradient id="can" x1="0" y1="0" x2="1" y2="0"><stop offset="0" stop-color="#1f7a3a"/><stop offset="0.45" stop-color="#43b564"/><stop offset="1" stop-color="#1a5e2d"/></linearGradient>
  </defs>
  <rect width="${W}" height="${H}" fill="url(#wall)"/>
  <rect y="380" width="${W}" height="${H - 380}" fill="#6b6f76"/>
  <polygon points="60,220 772,220 812,340 20,340" fill="url(#top)"/>
  <rect x="20" y="340" width="792" height="16" fill="#6e4a2a"/>
  <rect x="40" y="356" width="22" height="110" fill="#5a3b20"/><rect x="770" y="356" width="22" height="110" fill="#5a3b20"/>
  <ellipse cx="${CAN.x + CAN.w / 2}" cy="${CAN.y + CAN.h}" rx="${CAN.w / 2 + 6}" ry="6" fill="#000" opacity="0.18"/>
  <rect x="${CAN.x}" y="${CAN.y}" width="${CAN.w}" height="${CAN.h}" fill="url(#can)"/>
  <ellipse cx="${CAN.x + CAN.w / 2}" cy="${CAN.y}" rx="${CAN.w / 2}" ry="6" fill="#5fcf80"/>
  <ellipse cx="${CAN.x + CAN.w / 2}" cy="${CAN.y + CAN.h}" rx="${CAN.w / 2}" ry="6" fill="#1a5e2d"/>`;
}

function bowlBack(): string {
  const b = BOWL;
  return `<ellipse cx="${b.cx}" cy="${b.cy + b.depth}" rx="${b.rx * 0.8}" ry="7" fill="#000" opacity="0.2"/>
  <ellipse cx="${b.cx}" cy="${b.cy}" rx="${b.rx}" ry="${b.ry}" fill="#163d8c"/>`;
}

function bowlFront(): string {
  const b = BOWL;
  return `<path d="M ${b.cx - b.rx} ${b.cy} A ${b.rx} ${b.ry} 0 0 0 ${b.cx + b.rx} ${b.cy} Q ${b.cx + b.rx * 0.8} ${
    b.cy + b.depth
  } ${b.cx} ${b.cy + b.depth} Q ${b.cx - b.rx * 0.8} ${b.cy + b.depth} ${b.cx - b.rx} ${b.cy} Z" fill="#2d6be0"/>
  <path d="M ${b.cx - b.rx} ${b.cy} A ${b.rx} ${b.ry} 0 0 0 ${
    b.cx + b.rx
  } ${b.cy}" fill="none" stroke="#7fa8f5" stroke-width="3"/>`;
}

/** The cube with its top-left front corner at (x, y). */
function cube(x: number, y: number, shadow: boolean): string {
  const s = CUBE.s;
  const d = 14;
  return `${
    shadow
      ? `<ellipse cx="${r1(x + s / 2 + 4)}" cy="${r1(CUBE.y + s + 2)}" rx="${
        s / 2 + 6
      }" ry="6" fill="#000" opacity="0.2"/>`
      : ""
  }
  <polygon points="${r1(x)},${r1(y)} ${r1(x + d)},${r1(y - d)} ${r1(x + s + d)},${r1(y - d)} ${r1(x + s)},${
    r1(y)
  }" fill="#f0605a"/>
  <polygon points="${r1(x + s)},${r1(y)} ${r1(x + s + d)},${r1(y - d)} ${r1(x + s + d)},${r1(y + s - d)} ${r1(x + s)},${
    r1(y + s)
  }" fill="#a5221d"/>
  <rect x="${r1(x)}" y="${r1(y)}" width="${s}" height="${s}" fill="#d8342c"/>`;
}

/** Two-link planar IK (elbow up) from the shoulder to the wrist point. */
function ik(tx: number, ty: number): { ex: number; ey: number } {
  const dx = tx - SHOULDER.x;
  const dy = ty - SHOULDER.y;
  const dist = Math.min(Math.hypot(dx, dy), L1 + L2 - 1e-3);
  const a = Math.atan2(dy, dx);
  const cosB = (L1 * L1 + dist * dist - L2 * L2) / (2 * L1 * dist);
  const b = Math.acos(Math.max(-1, Math.min(1, cosB)));
  const ang = a + b; // elbow above the line (image y grows downwards)
  return { ex: SHOULDER.x + L1 * Math.cos(ang), ey: SHOULDER.y + L1 * Math.sin(ang) };
}

/** The arm with its wrist at (wx, wy); `open` 0 (closed on the cube) to 1 (open). */
function arm(wx: number, wy: number, open: number): string {
  const { ex, ey } = ik(wx, wy);
  const gap = 10 + open * 18;
  const finger = (side: number) =>
    `<rect x="${r1(wx + side * gap - 5)}" y="${r1(wy)}" width="10" height="34" rx="3" fill="#3c4350"/>`;
  return `<rect x="${SHOULDER.x - 34}" y="${SHOULDER.y}" width="68" height="${380 - SHOULDER.y}" fill="#5d6673"/>
  <rect x="${SHOULDER.x - 50}" y="368" width="100" height="20" rx="4" fill="#444b55"/>
  <line x1="${SHOULDER.x}" y1="${SHOULDER.y}" x2="${r1(ex)}" y2="${
    r1(ey)
  }" stroke="#f2a81d" stroke-width="30" stroke-linecap="round"/>
  <line x1="${r1(ex)}" y1="${r1(ey)}" x2="${r1(wx)}" y2="${
    r1(wy - 14)
  }" stroke="#f2c14e" stroke-width="22" stroke-linecap="round"/>
  <circle cx="${SHOULDER.x}" cy="${SHOULDER.y}" r="24" fill="#2e343d"/><circle cx="${r1(ex)}" cy="${
    r1(ey)
  }" r="17" fill="#2e343d"/>
  <rect x="${r1(wx - gap - 9)}" y="${r1(wy - 16)}" width="${r1(2 * gap + 18)}" height="16" rx="4" fill="#2e343d"/>
  ${finger(-1)}${finger(1)}`;
}

interface ArmState {
  wx: number;
  wy: number;
  open: number;
  /** Cube's top-left front corner. */
  cx: number;
  cy: number;
  cubeInBowl: boolean;
}

/** Key poses of the pick-and-place (time in seconds, wrist point, gripper opening). */
const KEYS: [number, number, number, number][] = [
  [0.0, 600, 140, 1],
  [0.9, CUBE.x + CUBE.s / 2, 190, 1],
  [1.25, CUBE.x + CUBE.s / 2, CUBE.y - 6, 1],
  [1.45, CUBE.x + CUBE.s / 2, CUBE.y - 6, 0],
  [1.8, CUBE.x + CUBE.s / 2, 170, 0],
  [2.7, BOWL.cx, 190, 0],
  [3.0, BOWL.cx, 222, 0],
  [3.15, BOWL.cx, 222, 1],
  [4.0, 600, 140, 1],
];
export const PICK_PLACE_SECONDS = 4;
/** Events of the clip (seconds), as a temporal-localization reference. */
export const PICK_PLACE_EVENTS = [
  { start: 0.0, end: 1.25, label: "arm reaches over the red cube" },
  { start: 1.25, end: 1.45, label: "gripper closes on the cube" },
  { start: 1.45, end: 3.0, label: "arm carries the cube to the blue bowl" },
  { start: 3.0, end: 3.15, label: "gripper opens, cube drops into the bowl" },
  { start: 3.15, end: 4.0, label: "arm returns home" },
];

function armAt(t: number): ArmState {
  let i = 0;
  while (i < KEYS.length - 2 && t > KEYS[i + 1][0]) i++;
  const [t0, x0, y0, o0] = KEYS[i];
  const [t1, x1, y1, o1] = KEYS[i + 1];
  const u = smooth(Math.max(0, Math.min(1, (t - t0) / (t1 - t0))));
  const wx = x0 + (x1 - x0) * u;
  const wy = y0 + (y1 - y0) * u;
  const open = o0 + (o1 - o0) * u;
  const holding = t >= 1.45 && t < 3.1;
  const released = t >= 3.1;
  const cx = holding ? wx - CUBE.s / 2 : released ? BOWL.cx - CUBE.s / 2 : CUBE.x;
  const cy = holding ? wy + 8 : released ? BOWL.cy - CUBE.s * 0.55 : CUBE.y;
  return { wx, wy, open, cx, cy, cubeInBowl: released };
}

function tableSvg(s: ArmState): string {
  const cubeSvg = cube(s.cx, s.cy, !s.cubeInBowl && s.cy === CUBE.y);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${tableBackground()}${bowlBack()}
  ${s.cubeInBowl ? cubeSvg + bowlFront() : bowlFront() + cubeSvg}${arm(s.wx, s.wy, s.open)}</svg>`;
}

/** Boxes of the still scene on the 0–1000 grid (x1, y1, x2, y2). */
function sceneBoxes(): { label: string; box: [number, number, number, number] }[] {
  const n = (
    x: number,
    y: number,
    x2: number,
    y2: number,
  ): [number, number, number, number] => [
    Math.round((x / W) * 1000),
    Math.round((y / H) * 1000),
    Math.round((x2 / W) * 1000),
    Math.round((y2 / H) * 1000),
  ];
  const home = armAt(0);
  const { ex, ey } = ik(home.wx, home.wy);
  return [
    { label: "red cube", box: n(CUBE.x, CUBE.y - 14, CUBE.x + CUBE.s + 14, CUBE.y + CUBE.s) },
    { label: "blue bowl", box: n(BOWL.cx - BOWL.rx, BOWL.cy - BOWL.ry, BOWL.cx + BOWL.rx, BOWL.cy + BOWL.depth) },
    { label: "green can", box: n(CAN.x, CAN.y - 6, CAN.x + CAN.w, CAN.y + CAN.h + 6) },
    { label: "robot gripper", box: n(home.wx - 46, home.wy - 16, home.wx + 46, home.wy + 34) },
    { label: "robot arm", box: n(Math.min(ex, home.wx) - 20, Math.min(ey, SHOULDER.y) - 20, SHOULDER.x + 50, 388) },
  ];
}

// ---------------------------------------------------------------- egocentric view
/** Wrist points of the two hands in the egocentric image (pixels). */
const HANDS = { left: { sx: 150, sy: 520, x: 250, y: 372 }, right: { sx: 690, sy: 520, x: 470, y: 318 } };

/** One forearm from off-screen (sx, sy) to the wrist (x, y), with a palm and four fingers pointing along it. */
function hand(h: { sx: number; sy: number; x: number; y: number }): string {
  const a = Math.atan2(h.y - h.sy, h.x - h.sx);
  const deg = r1((a * 180) / Math.PI);
  const fingers = [-13, -4, 5, 14].map((o, i) =>
    `<rect x="28" y="${o - 4}" width="${26 - Math.abs(i - 1.5) * 4}" height="8" rx="4" fill="#d99a70"/>`
  ).join("");
  return `<line x1="${h.sx}" y1="${h.sy}" x2="${h.x}" y2="${h.y}" stroke="#3b5b92" stroke-width="64" stroke-linecap="round"/>
  <g transform="translate(${h.x} ${h.y}) rotate(${deg})"><ellipse cx="14" cy="0" rx="26" ry="22" fill="#e0ac83"/>${fingers}
  <rect x="4" y="${h.x < W / 2 ? -30 : 18}" width="22" height="9" rx="4" fill="#d99a70"/></g>`;
}

/** The table scene without the robot arm, seen from a person standing at it, both hands in view. */
function egocentricSvg(): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${tableBackground()}${bowlBack()}${bowlFront()}
  ${cube(CUBE.x, CUBE.y, true)}${hand(HANDS.left)}${hand(HANDS.right)}</svg>`;
}

// ---------------------------------------------------------------- pick-and-place sound
/** Interleaved stereo PCM at 48 kHz: whine following the wrist speed, panned by its x. */
function pickPlaceSound(seconds: number): Float32Array {
  const n = Math.round(seconds * RATE);
  const out = new Float32Array(n * 2);
  const rnd = prng(7);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const a = armAt(t);
    const b = armAt(t + 1 / FPS);
    const speed = Math.hypot(b.wx - a.wx, b.wy - a.wy) * FPS; // px/s
    const level = Math.min(1, speed / 400);
    phase += (2 * Math.PI * (140 + 260 * level)) / RATE;
    let s = 0.18 * level * (Math.sin(phase) + 0.35 * Math.sin(2 * phase));
    const click = t - 1.42; // gripper closing on the cube
    if (click >= 0 && click < 0.04) s += 0.5 * (rnd() * 2 - 1) * Math.exp(-click * 120);
    const thud = t - 3.18; // cube landing in the bowl
    if (thud >= 0 && thud < 0.3) {
      s += 0.6 * Math.sin(2 * Math.PI * 95 * thud) * Math.exp(-thud * 18) +
        0.15 * (rnd() * 2 - 1) * Math.exp(-thud * 60);
    }
    const pan = Math.max(0, Math.min(1, a.wx / W)); // 0 = left, 1 = right
    out[2 * i] = s * Math.cos((pan * Math.PI) / 2);
    out[2 * i + 1] = s * Math.sin((pan * Math.PI) / 2);
  }
  return out;
}

// ---------------------------------------------------------------- driving clip
export const DRIVING_SECONDS = 3;

function drivingSvg(t: number): string {
  const hx = 416 + 18 * Math.sin(t * 1.3); // horizon point drifts: a gentle curve
  const hy = 200;
  const rnd = prng(11);
  const lanes: string[] = [];
  // dashes: world distance z (m) → screen y = hy + k / z
  const speed = 14; // m/s
  for (let i = 0; i < 12; i++) {
    const z0 = ((i * 6 - t * speed) % 72 + 72) % 72 + 4;
    const z1 = z0 + 3;
    const y0 = hy + 1100 / z0;
    const y1 = hy + 1100 / z1;
    if (y0 > H + 40) continue;
    const w0 = 60 / z0;
    const w1 = 60 / z1;
    const x0 = hx + (416 - hx) * (1 - 4 / z0);
    const x1 = hx + (416 - hx) * (1 - 4 / z1);
    lanes.push(
      `<polygon points="${r1(x0 - w0)},${r1(y0)} ${r1(x0 + w0)},${r1(y0)} ${r1(x1 + w1)},${r1(y1)} ${r1(x1 - w1)},${
        r1(y1)
      }" fill="#f4f1e6"/>`,
    );
  }
  const poles: string[] = [];
  for (let i = 0; i < 8; i++) {
    const z = ((i * 10 - t * speed) % 80 + 80) % 80 + 3;
    const y = hy + 1100 / z;
    const h = 3200 / z;
    const side = i % 2 === 0 ? -1 : 1;
    const x = hx + side * (7000 / z);
    const green = 90 + Math.floor(rnd() * 60);
    poles.push(`<rect x="${r1(x - 90 / z)}" y="${r1(y - h)}" width="${r1(180 / z)}" height="${r1(h)}" fill="#5b4630"/>
      <circle cx="${r1(x)}" cy="${r1(y - h)}" r="${r1(1400 / z)}" fill="rgb(40,${green},50)"/>`);
  }
  const leadZ = 16 - 3 * Math.sin(t * 0.9); // the lead car closes in a little, then pulls away
  const ly = hy + 1100 / leadZ;
  const lw = 2600 / leadZ;
  const lh = 1500 / leadZ;
  const lx = hx + (416 - hx) * (1 - 4 / leadZ);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#6fa8dc"/><stop offset="1" stop-color="#dbe9f5"/></linearGradient></defs>
  <rect width="${W}" height="${hy}" fill="url(#sky)"/>
  <rect y="${hy}" width="${W}" height="${H - hy}" fill="#5f8a4a"/>
  <polygon points="${r1(hx - 6)},${hy} ${r1(hx + 6)},${hy} ${W + 300},${H} -300,${H}" fill="#55585e"/>
  <polygon points="${r1(hx - 5)},${hy} ${r1(hx - 3)},${hy} ${-180},${H} ${-210},${H}" fill="#f4f1e6"/>
  <polygon points="${r1(hx + 3)},${hy} ${r1(hx + 5)},${hy} ${W + 210},${H} ${W + 180},${H}" fill="#f4f1e6"/>
  ${lanes.join("")}${poles.join("")}
  <rect x="${r1(lx - lw / 2)}" y="${r1(ly - lh)}" width="${r1(lw)}" height="${r1(lh)}" rx="${
    r1(lw / 10)
  }" fill="#e8e8ea"/>
  <rect x="${r1(lx - lw * 0.38)}" y="${r1(ly - lh * 0.95)}" width="${r1(lw * 0.76)}" height="${
    r1(lh * 0.35)
  }" fill="#3a4a5a"/>
  <rect x="${r1(lx - lw * 0.46)}" y="${r1(ly - lh * 0.45)}" width="${r1(lw * 0.16)}" height="${
    r1(lh * 0.12)
  }" fill="#d0201a"/>
  <rect x="${r1(lx + lw * 0.30)}" y="${r1(ly - lh * 0.45)}" width="${r1(lw * 0.16)}" height="${
    r1(lh * 0.12)
  }" fill="#d0201a"/>
  <rect x="${r1(lx - lw * 0.5)}" y="${r1(ly - 4)}" width="${r1(lw)}" height="6" fill="#1d1d20"/>
  <rect y="${H - 46}" width="${W}" height="46" fill="#202328"/>
  </svg>`;
}

// ---------------------------------------------------------------- action chunks
const STEPS = 16;

/** 6D rotation (first two columns of R) of a yaw angle about z. */
function rot6Yaw(yaw: number): number[] {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  return [c, s, 0, -s, c, 0];
}

const f4 = (v: number) => Math.round(v * 1e4) / 1e4;

/**
 * Single-arm 10D: end-effector xyz (m, robot base frame) + 6D rotation + gripper in Cosmos 3's convention, 1 open …
 * 0 closed (cosmos-framework `data/generator/action/agibot_fk.py:359` "0=closed and 1=open"; its DROID and UR loaders
 * flip their datasets' raw 0 = open into it: `droid_lerobot_dataset.py:412-413`, `robomind_ur_dataset.py:197-199`).
 */
function singleArmChunk(): number[][] {
  return Array.from({ length: STEPS }, (_, i) => {
    const t = (i / (STEPS - 1)) * PICK_PLACE_SECONDS;
    const a = armAt(t);
    // image → a metric frame in front of the robot: x forward, y left, z up
    const x = f4(0.35 + (SHOULDER.x - a.wx) / 1000);
    const y = f4((a.wx - 416) / 1200);
    const z = f4(0.05 + (300 - a.wy) / 900);
    return [x, y, z, ...rot6Yaw(0.1 * Math.sin(t)).map(f4), f4(a.open)];
  });
}

/** AV 9D: ego position xyz (m, start frame) + 6D rotation, 10 Hz, gentle left curve at 14 m/s. */
function avChunk(): number[][] {
  let x = 0;
  let y = 0;
  let yaw = 0;
  return Array.from({ length: STEPS }, () => {
    const row = [f4(x), f4(y), 0, ...rot6Yaw(yaw).map(f4)];
    yaw += 0.012;
    x += 1.4 * Math.cos(yaw);
    y += 1.4 * Math.sin(yaw);
    return row;
  });
}

/** Camera 9D: camera position xyz (m) + 6D rotation: a slow orbit around the table looking at it. */
function cameraChunk(): number[][] {
  return Array.from({ length: STEPS }, (_, i) => {
    const a = (i / (STEPS - 1)) * 0.6 - 0.3;
    return [f4(1.2 * Math.sin(a)), f4(-1.2 * Math.cos(a) + 1.2), 0.6, ...rot6Yaw(a).map(f4)];
  });
}

/**
 * Egocentric 57D: head pose (x, y, z in m + 6D rotation) then 8 keypoints × xyz of the left hand
 * and 8 of the right (m, start head frame); the right hand reaches for the cube and lifts it while
 * the head tilts down to follow. The spec gives only the dimension: this split is ours.
 */
function egocentricChunk(): number[][] {
  const keypoints = (cx: number, cy: number, cz: number, spread: number) =>
    Array.from(
      { length: 8 },
      (_, k) => [f4(cx + 0.012 * (k % 4)), f4(cy + spread * ((k % 4) - 1.5) * 0.01), f4(cz - 0.02 * Math.floor(k / 4))],
    ).flat();
  return Array.from({ length: STEPS }, (_, i) => {
    const u = smooth(i / (STEPS - 1));
    const lift = Math.max(0, (i - 10) / (STEPS - 11));
    const pitch = -0.15 * u;
    const head = [0, 0, 1.6, f4(Math.cos(pitch)), 0, f4(-Math.sin(pitch)), 0, 1, 0];
    return [
      ...head,
      ...keypoints(0.35, 0.2, 1.05, 1),
      ...keypoints(0.35 + 0.2 * u, -0.2 + 0.12 * u, 1.05 - 0.12 * u + 0.1 * lift, 1 - 0.5 * u),
    ];
  });
}

/** Dual-arm 20D: two single-arm rows (left then right); the right arm mirrors the left. */
function dualArmChunk(): number[][] {
  return singleArmChunk().map((r) => [...r, r[0], f4(-r[1]), ...r.slice(2)]);
}

/** Humanoid 29D: joint angles (rad), a slow wave through the joints. */
function humanoidChunk(): number[][] {
  return Array.from(
    { length: STEPS },
    (_, i) => Array.from({ length: 29 }, (_, j) => f4(0.3 * Math.sin(i * 0.25 + j * 0.5) * (j % 3 === 0 ? 1 : 0.5))),
  );
}

const CHUNKS: { file: string; embodiment: EmbodimentId; rows: () => number[][]; layout: string }[] = [
  {
    file: "actions/droid_10d.json",
    embodiment: "droid",
    rows: singleArmChunk,
    layout:
      "x, y, z (m) + 6D rotation + gripper (1 open … 0 closed, Cosmos 3's convention); follows the pick-and-place clip",
  },
  {
    file: "actions/av_9d.json",
    embodiment: "av",
    rows: avChunk,
    layout: "ego x, y, z (m) + 6D rotation; 1.4 m a step, gentle left curve",
  },
  {
    file: "actions/camera_pose_9d.json",
    embodiment: "camera_pose",
    rows: cameraChunk,
    layout: "camera x, y, z (m) + 6D rotation; slow orbit",
  },
  {
    file: "actions/egocentric_57d.json",
    embodiment: "egocentric",
    rows: egocentricChunk,
    layout:
      "head x, y, z (m) + 6D rotation, then 8 left-hand and 8 right-hand keypoints × x, y, z (m); the right hand reaches for the cube (our layout: the spec gives only 57D)",
  },
  {
    file: "actions/dual_droid_20d.json",
    embodiment: "dual_droid",
    rows: dualArmChunk,
    layout: "left arm 10D then right arm 10D (mirrored)",
  },
  {
    file: "actions/agibot_29d.json",
    embodiment: "agibot",
    rows: humanoidChunk,
    layout: "29 joint angles (rad), a slow wave",
  },
];

// ---------------------------------------------------------------- the procedural world
/** scene.json's word on the world's 10D chunk: the gripper column is in Cosmos 3's convention, as droid_10d.json's. */
const WORLD_CHUNK_LAYOUT =
  "TCP x, y, z (m) + 6D rotation + gripper (1 open … 0 closed, Cosmos 3's convention; src/world/gripper.ts)";
/** Held-out seeds only: the cookbooks show what the mini models never trained on. */
const WORLD_SEARCH = { from: SEED_SPLITS.eval.from, tries: 20_000 } as const;

/** The first held-out seed whose sample passes `ok` (the search is cheap: no pixels). */
function worldSeed(what: string, options: SampleOptions, ok: (s: WorldSample) => boolean): WorldSample {
  for (let seed = WORLD_SEARCH.from; seed < WORLD_SEARCH.from + WORLD_SEARCH.tries; seed++) {
    const s = makeSample(seed, options);
    if (ok(s)) return s;
  }
  throw new Error(`no held-out world seed gives ${what} in ${WORLD_SEARCH.tries} tries (src/world changed?)`);
}

/** Every object shows in the first frame at `size` (nothing hidden behind the arm). */
function allVisible(s: WorldSample, size: { width: number; height: number }): boolean {
  const views = renderClip(s, size, [0]).views[0];
  return visibleObjects(s, views, size).length === s.scene.objects.length;
}

const eventJson = (s: WorldSample) => s.events.map((e) => ({ start: e.start, end: e.end, label: e.label }));

/** Clips of the world with their ground truth (the `world` key of scene.json). */
async function makeWorldAssets(dir: string): Promise<Record<string, unknown>> {
  // A pick-and-place at the cookbooks' size: three objects, fixed camera, 4 s at 8 fps.
  const pick = worldSeed("a pick-and-place", {
    frames: 33,
    fps: 8,
    scenario: "pick_place",
    objects: 3,
    movingCamera: false,
  }, (s) => new Set(s.scene.objects.map((o) => o.shape)).size === 3 && allVisible(s, COOKBOOK));
  const pickClip = renderClip(pick, COOKBOOK);
  await writeClip(pickClip, pick, {
    dir,
    video: "videos/world_pick_place.mp4",
    firstFrame: "images/world_tabletop.png",
  });
  // The Generator's example at the smallest tier: "the red cube slides to the left", 17 frames (a 16-row chunk).
  const push = worldSeed(
    "a red cube pushed left",
    { frames: 17, fps: 10, scenario: "push", objects: 3, movingCamera: false },
    (s) =>
      s.scene.objects[s.scenario.target].label === "red cube" && s.scenario.direction === "left" &&
      allVisible(s, SMALL),
  );
  await writeClip(renderClip(push, SMALL), push, {
    dir,
    video: "videos/world_push.mp4",
    firstFrame: "images/world_push_start.png",
    actions: "actions/world_droid_10d.json",
  });
  // A physically implausible clip: an object jumps to another spot.
  const odd = worldSeed(
    "a teleport",
    { frames: 33, fps: 8, objects: 3, movingCamera: false, anomaly: "teleport" },
    (s) => s.plausibility.anomaly?.kind === "teleport" && allVisible(s, SMALL),
  );
  await writeClip(renderClip(odd, SMALL), odd, { dir, video: "videos/world_implausible.mp4" });
  // The Reasoner cookbooks' inputs at the mini Reasoner's training size, 320x192 (at 832x480 its answers fall
  // apart: it never saw frames that size): the same pick-and-place, and a clip where an object floats up.
  const pickSmall = renderClip(pick, SMALL);
  await writeClip(pickSmall, pick, {
    dir,
    video: "videos/world_pick_place_small.mp4",
    firstFrame: "images/world_tabletop_small.png",
  });
  const floating = worldSeed(
    "a float",
    { frames: 33, fps: 8, objects: 3, movingCamera: false, anomaly: "float" },
    (s) => s.plausibility.anomaly?.kind === "float" && allVisible(s, SMALL),
  );
  await writeClip(renderClip(floating, SMALL), floating, { dir, video: "videos/world_floating.mp4" });
  const clip = (s: WorldSample, path: string) => ({
    path,
    seed: s.seed,
    seconds: s.seconds,
    fps: s.fps,
    frames: s.frames,
  });
  return {
    note:
      "The procedural world of src/world (the mini checkpoints' training world), held-out eval seeds; boxes are [x1, y1, x2, y2] on the 0–1000 grid.",
    image: {
      path: "images/world_tabletop.png",
      seed: pick.seed,
      width: COOKBOOK.width,
      height: COOKBOOK.height,
      boxes: pick.scene.objects.map((o, i) => ({ label: o.label, box: gridBox(pickClip.views[0][i].box!, COOKBOOK) })),
    },
    pickPlace: {
      ...clip(pick, "videos/world_pick_place.mp4"),
      width: COOKBOOK.width,
      height: COOKBOOK.height,
      instruction: pick.scenario.instruction,
      events: eventJson(pick),
      prompt: generatorPrompt(pick),
    },
    push: {
      ...clip(push, "videos/world_push.mp4"),
      width: SMALL.width,
      height: SMALL.height,
      firstFrame: "images/world_push_start.png",
      actions: "actions/world_droid_10d.json",
      embodiment: "droid",
      layout: WORLD_CHUNK_LAYOUT,
      instruction: push.scenario.instruction,
      // in the words the mini Generator was last trained on: where each object stands in the first frame too
      // (its cosmos-ts.json prompt_places)
      prompt: generatorPrompt(push, { layout: true }),
      events: eventJson(push),
    },
    implausible: {
      ...clip(odd, "videos/world_implausible.mp4"),
      width: SMALL.width,
      height: SMALL.height,
      label: odd.plausibility.label,
      why: odd.plausibility.violations.map((v) => v.detail),
      events: eventJson(odd),
    },
    smallImage: {
      path: "images/world_tabletop_small.png",
      seed: pick.seed,
      width: SMALL.width,
      height: SMALL.height,
      boxes: pick.scene.objects.map((o, i) => ({ label: o.label, box: gridBox(pickSmall.views[0][i].box!, SMALL) })),
    },
    smallPickPlace: {
      ...clip(pick, "videos/world_pick_place_small.mp4"),
      width: SMALL.width,
      height: SMALL.height,
      firstFrame: "images/world_tabletop_small.png",
      label: pick.plausibility.label,
      events: eventJson(pick),
    },
    floating: {
      ...clip(floating, "videos/world_floating.mp4"),
      width: SMALL.width,
      height: SMALL.height,
      label: floating.plausibility.label,
      why: floating.plausibility.violations.map((v) => v.detail),
      events: eventJson(floating),
    },
  };
}

// ---------------------------------------------------------------- main
async function* frames(seconds: number, draw: (t: number) => string): AsyncGenerator<RgbFrame> {
  const n = Math.round(seconds * FPS);
  for (let i = 0; i < n; i++) yield await rasterise(draw(i / FPS));
}

/** Writes every output under `dir` (default: this folder). */
export async function makeAssets(dir = here): Promise<string[]> {
  for (const sub of ["images", "videos", "actions"]) await mkdir(join(dir, sub), { recursive: true });
  const still = await rasterise(tableSvg(armAt(0)));
  await writeImage(still, join(dir, "images/tabletop.png"));
  await writeImage(still, join(dir, "images/tabletop.jpg"), { quality: 90 });
  await sharp(still.data, { raw: { width: W, height: H, channels: 3 } }).webp({ quality: 85 }).toFile(
    join(dir, "images/tabletop.webp"),
  );
  await writeImage(await rasterise(drivingSvg(0)), join(dir, "images/road.jpg"), { quality: 90 });
  await writeImage(await rasterise(egocentricSvg()), join(dir, "images/egocentric.jpg"), { quality: 90 });

  await encodeVideo(frames(PICK_PLACE_SECONDS, (t) => tableSvg(armAt(t))), {
    output: join(dir, "videos/pick_place.mp4"),
    fps: FPS,
    width: W,
    height: H,
    crf: 26,
    audio: { pcm: pickPlaceSound(PICK_PLACE_SECONDS), sampleRate: RATE, channels: 2 },
    audioBitrate: "96k",
  });
  await encodeVideo(frames(DRIVING_SECONDS, drivingSvg), {
    output: join(dir, "videos/driving.mp4"),
    fps: FPS,
    width: W,
    height: H,
    crf: 26,
  });

  for (const c of CHUNKS) {
    await writeActionChunk(join(dir, c.file), c.rows(), { dim: EMBODIMENTS[c.embodiment].actionDim });
  }
  const scene = {
    note: "Synthetic scenes drawn by assets/make.ts; boxes are [x1, y1, x2, y2] on the Qwen3-VL 0–1000 grid.",
    image: { path: "images/tabletop.png", width: W, height: H, boxes: sceneBoxes() },
    pickPlace: {
      path: "videos/pick_place.mp4",
      seconds: PICK_PLACE_SECONDS,
      fps: FPS,
      events: PICK_PLACE_EVENTS,
      sound: "48 kHz stereo AAC",
    },
    driving: { path: "videos/driving.mp4", firstFrame: "images/road.jpg", seconds: DRIVING_SECONDS, fps: FPS },
    actions: Object.fromEntries(CHUNKS.map((c) => [c.embodiment, {
      path: c.file,
      dim: EMBODIMENTS[c.embodiment].actionDim,
      steps: STEPS,
      layout: c.layout,
    }])),
    world: await makeWorldAssets(dir),
  };
  await writeFile(join(dir, "scene.json"), JSON.stringify(scene, null, 2) + "\n");
  return OUTPUTS.map((o) => join(dir, o));
}

/** Hash of this script and of the world's modules (a change to either remakes the assets). */
function scriptHash(): string {
  const h = createHash("sha256").update(readFileSync(fileURLToPath(import.meta.url)));
  const world = join(here, "..", "src", "world");
  for (const f of readdirSync(world).filter((n) => n.endsWith(".ts")).sort()) {
    h.update(f).update(readFileSync(join(world, f)));
  }
  return h.digest("hex");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const stamp = join(here, ".stamp");
  const force = process.argv.includes("--force");
  const fresh = !force && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === scriptHash() &&
    OUTPUTS.every((o) => existsSync(join(here, o)));
  if (fresh) {
    console.log("[assets] up to date");
  } else {
    const t0 = Date.now();
    await makeAssets();
    await writeFile(stamp, scriptHash() + "\n");
    console.log(`[assets] wrote ${OUTPUTS.length} files to ${here} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}
