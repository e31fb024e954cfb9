/**
 * 3D vectors and the pinhole camera of the world. World frame: x to the right of the table
 * (as the camera sees it), y away from the camera, z up; metres. The table top is z = 0.
 *
 * @example
 * ```ts
 * import { cameraAt, project } from "./geometry.ts";
 * const cam = cameraAt({ width: 320, height: 192, orbitDeg: 0 });
 * project(cam, [0, 0.35, 0]); // the table centre, in the middle of the image: { u: 160, v: 96, depth: … }
 * ```
 * @module
 */
export type Vec3 = readonly [number, number, number];

export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const scale = (a: Vec3, k: number): Vec3 => [a[0] * k, a[1] * k, a[2] * k];
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (
  a: Vec3,
  b: Vec3,
): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
export const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
export const normalize = (a: Vec3): Vec3 => scale(a, 1 / norm(a));

/** Where the camera looks: the table centre. */
export const TABLE_CENTER: Vec3 = [0, 0.42, 0.06];

/** A pinhole camera: position, orthonormal axes and focal length in pixels. */
export interface Camera {
  width: number;
  height: number;
  position: Vec3;
  right: Vec3;
  up: Vec3;
  forward: Vec3;
  focal: number;
}

/** Camera placement: `orbitDeg` turns it about the vertical axis through the table centre. */
export interface CameraPose {
  width: number;
  height: number;
  orbitDeg: number;
  /** Distance from the table centre (default 0.85 m). */
  distance?: number;
  /** Height above the table (default 0.72 m). */
  height_m?: number;
  /** Horizontal field of view (default 54°). */
  fovDeg?: number;
}

/** The camera for a pose, looking at {@link TABLE_CENTER}. */
export function cameraAt(pose: CameraPose): Camera {
  const a = (pose.orbitDeg * Math.PI) / 180;
  const d = pose.distance ?? 0.85;
  const h = pose.height_m ?? 0.72;
  const position: Vec3 = [TABLE_CENTER[0] + d * Math.sin(a), TABLE_CENTER[1] - d * Math.cos(a), h];
  const forward = normalize(sub(TABLE_CENTER, position));
  const right = normalize(cross(forward, [0, 0, 1]));
  const up = cross(right, forward);
  const fov = ((pose.fovDeg ?? 54) * Math.PI) / 180;
  return {
    width: pose.width,
    height: pose.height,
    position,
    right,
    up,
    forward,
    focal: pose.width / 2 / Math.tan(fov / 2),
  };
}

/** A projected point: pixel coordinates (continuous, origin at the top-left corner) and depth (m). */
export interface Projected {
  u: number;
  v: number;
  depth: number;
}

/** Projects a world point to the image. */
export function project(cam: Camera, p: Vec3): Projected {
  const d = sub(p, cam.position);
  const depth = Math.max(1e-6, dot(d, cam.forward));
  return {
    u: cam.width / 2 + (cam.focal * dot(d, cam.right)) / depth,
    v: cam.height / 2 - (cam.focal * dot(d, cam.up)) / depth,
    depth,
  };
}

/** Rotation about z by `yaw` applied to (x, y). */
export function yawed(x: number, y: number, yaw: number): [number, number] {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  return [c * x - s * y, s * x + c * y];
}

/** 6D rotation (the first two columns of R, as in the single-arm 10D layout) of a yaw about z. */
export function rot6FromYaw(yaw: number): [number, number, number, number, number, number] {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  return [c, s, 0, -s, c, 0];
}

/** The yaw of a 6D rotation (first column's angle in the xy plane). */
export function yawFromRot6(r: readonly number[]): number {
  return Math.atan2(r[1], r[0]);
}
