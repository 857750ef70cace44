import { MnistSet, MNIST_SIZE, NUM_CLASSES, Split, digitPixel, loadMnist, splitAll, splitIndices } from './mnist';
import { Rng, gaussian, hashSeed, mulberry32, pick, randInt, uniform } from './prng';

/**
 * Seeded scenes of real handwritten digits: RGB, one or two digits of different classes at
 * random positions, scales, rotations and colours, on a gradient background with noise and
 * fragments of other digits. Each scene carries its ground truth (labels, a box and a pixel
 * mask per digit), so localisation methods can be scored, not just classification.
 */

/** An axis-aligned box in scene pixels: columns x … x+width-1, rows y … y+height-1. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export type Rgb = readonly [number, number, number];

/** Ground truth of one digit in a scene. */
export interface DigitTruth {
  readonly label: number;
  /** Tight box around the digit's ink (pixels whose alpha ≥ MASK_THRESHOLD). */
  readonly box: Box;
  /** height×width, 1 where this digit's ink is (alpha ≥ MASK_THRESHOLD), else 0. */
  readonly mask: Uint8Array;
  /** Index of the source digit in the mnist set (see loadMnist). */
  readonly sourceIndex: number;
  readonly colour: Rgb;
}

/** How much distraction a scene has. */
export type Clutter = 'light' | 'normal' | 'heavy';

export interface Scene {
  readonly width: number;
  readonly height: number;
  /** height×width×3 RGB in [0, 1], row-major (the model's input layout). */
  readonly pixels: Float32Array;
  /** Classes present, in the order of `digits`. */
  readonly labels: readonly number[];
  readonly digits: readonly DigitTruth[];
  readonly split: Split;
  readonly seed: number;
  readonly index: number;
  readonly clutter: Clutter;
}

export interface SceneOptions {
  /** Source digits come only from this split. */
  readonly split: Split;
  /** Together with `index`, fully determines the scene. */
  readonly seed: number;
  readonly index: number;
  /** Square side in pixels; 64 by default. */
  readonly size?: number;
  /** How many digits (of different classes); random 1 or 2 when absent. */
  readonly count?: 1 | 2;
  /** Force these classes (must be distinct, length 1 or 2). */
  readonly labels?: readonly number[];
  /** Random when absent: light 20%, normal 50%, heavy 30%. */
  readonly clutter?: Clutter;
}

export const DEFAULT_SCENE_SIZE = 64;
/** A pixel belongs to a digit's mask when the digit's alpha there is at least this. */
export const MASK_THRESHOLD = 0.35;

/** Ink bounding box of each source digit in its 28×28 tile, computed once per set. */
const inkBoxes = new WeakMap<MnistSet, Int16Array>();

function sourceInkBox(set: MnistSet, index: number): [number, number, number, number] {
  let boxes = inkBoxes.get(set);
  if (!boxes) {
    boxes = new Int16Array(set.labels.length * 4).fill(-1);
    inkBoxes.set(set, boxes);
  }
  if (boxes[index * 4] < 0) {
    let x0 = MNIST_SIZE, y0 = MNIST_SIZE, x1 = -1, y1 = -1;
    for (let y = 0; y < MNIST_SIZE; y++) {
      for (let x = 0; x < MNIST_SIZE; x++) {
        if (digitPixel(set, index, x, y) >= 26) {
          x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
        }
      }
    }
    if (x1 < 0) { x0 = 0; y0 = 0; x1 = MNIST_SIZE - 1; y1 = MNIST_SIZE - 1; }
    boxes.set([x0, y0, x1, y1], index * 4);
  }
  return [boxes[index * 4], boxes[index * 4 + 1], boxes[index * 4 + 2], boxes[index * 4 + 3]];
}

/** Bilinear intensity (0–1) of a source digit at a fractional tile position. */
function sampleDigit(set: MnistSet, index: number, u: number, v: number): number {
  const x0 = Math.floor(u), y0 = Math.floor(v);
  const fx = u - x0, fy = v - y0;
  const a = digitPixel(set, index, x0, y0), b = digitPixel(set, index, x0 + 1, y0);
  const c = digitPixel(set, index, x0, y0 + 1), d = digitPixel(set, index, x0 + 1, y0 + 1);
  return ((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy) / 255;
}

/** Where a tile rectangle lands in the scene: a similarity transform around the tile centre. */
interface Placement {
  readonly cx: number;
  readonly cy: number;
  readonly scale: number;
  readonly angle: number;
}

/** Scene position of tile point (u, v). */
function forward(p: Placement, u: number, v: number): [number, number] {
  const dx = (u - MNIST_SIZE / 2) * p.scale, dy = (v - MNIST_SIZE / 2) * p.scale;
  const c = Math.cos(p.angle), s = Math.sin(p.angle);
  return [p.cx + c * dx - s * dy, p.cy + s * dx + c * dy];
}

/** Scene box covering a tile rectangle after placement (a slightly generous estimate). */
function placedBox(p: Placement, r: readonly [number, number, number, number]): Box {
  const corners = [forward(p, r[0], r[1]), forward(p, r[2] + 1, r[1]), forward(p, r[0], r[3] + 1), forward(p, r[2] + 1, r[3] + 1)];
  const xs = corners.map((q) => q[0]), ys = corners.map((q) => q[1]);
  const x = Math.floor(Math.min(...xs)), y = Math.floor(Math.min(...ys));
  return { x, y, width: Math.ceil(Math.max(...xs)) - x, height: Math.ceil(Math.max(...ys)) - y };
}

function boxesOverlap(a: Box, b: Box, gap: number): boolean {
  return a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap;
}

function insideScene(b: Box, size: number): boolean {
  return b.x >= 0 && b.y >= 0 && b.x + b.width <= size && b.y + b.height <= size;
}

function luminance(c: Rgb): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

/** A random colour at least `contrast` brighter (in luminance) than the background. */
function contrastingColour(rng: Rng, against: number, contrast: number): Rgb {
  for (let i = 0; i < 40; i++) {
    const c: Rgb = [rng(), rng(), rng()];
    if (luminance(c) - against >= contrast) return c;
  }
  // Rarely reached: white is always bright enough on the dark backgrounds.
  return [1, 1, 1];
}

/**
 * A two-colour linear gradient, always dark, so every digit is brighter than its background.
 * Both polarities (dark digits on light ground too) were tried first: the models then sat at
 * the class-prior loss for hundreds of steps, far beyond the minutes training may take here.
 */
function paintBackground(rng: Rng, size: number, out: Float32Array): number {
  const tint = (): Rgb => {
    // A dark grey level with each channel jittered, so backgrounds are coloured too.
    const g = uniform(rng, 0, 0.3);
    return [g + uniform(rng, -0.15, 0.15), g + uniform(rng, -0.15, 0.15), g + uniform(rng, -0.15, 0.15)].map((v) => Math.min(1, Math.max(0, v))) as unknown as Rgb;
  };
  const c1 = tint(), c2 = tint();
  const angle = uniform(rng, 0, 2 * Math.PI);
  const ux = Math.cos(angle), uy = Math.sin(angle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = 0.5 + ((x - size / 2) * ux + (y - size / 2) * uy) / (size * 1.42);
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) out[o + ch] = c1[ch] * (1 - t) + c2[ch] * t;
    }
  }
  return (luminance(c1) + luminance(c2)) / 2;
}

/**
 * Alpha-composite part of a source digit (tile rectangle `rect`) in `colour`. Returns the
 * alpha it laid down when `wantAlpha` (for masks), so digits and fragments share one painter.
 */
function paintDigit(set: MnistSet, index: number, rect: readonly [number, number, number, number], p: Placement,
  colour: Rgb, size: number, out: Float32Array, alphaOut: Float32Array | null): void {
  const area = placedBox(p, rect);
  const c = Math.cos(p.angle), s = Math.sin(p.angle);
  const x0 = Math.max(0, area.x - 1), y0 = Math.max(0, area.y - 1);
  const x1 = Math.min(size - 1, area.x + area.width + 1), y1 = Math.min(size - 1, area.y + area.height + 1);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      // Inverse transform of the pixel centre into the tile.
      const dx = x + 0.5 - p.cx, dy = y + 0.5 - p.cy;
      const u = (c * dx + s * dy) / p.scale + MNIST_SIZE / 2 - 0.5;
      const v = (-s * dx + c * dy) / p.scale + MNIST_SIZE / 2 - 0.5;
      if (u < rect[0] - 0.5 || v < rect[1] - 0.5 || u > rect[2] + 0.5 || v > rect[3] + 0.5) continue;
      const a = sampleDigit(set, index, u, v);
      if (a <= 0) continue;
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) out[o + ch] = out[o + ch] * (1 - a) + colour[ch] * a;
      if (alphaOut) alphaOut[y * size + x] = Math.max(alphaOut[y * size + x], a);
    }
  }
}

function chooseLabels(rng: Rng, count: 1 | 2): number[] {
  const first = randInt(rng, 0, NUM_CLASSES - 1);
  if (count === 1) return [first];
  const second = (first + randInt(rng, 1, NUM_CLASSES - 1)) % NUM_CLASSES;
  return [first, second];
}

function chooseClutter(rng: Rng): Clutter {
  const r = rng();
  return r < 0.2 ? 'light' : r < 0.7 ? 'normal' : 'heavy';
}

/** Find a placement whose ink box fits in the scene and keeps clear of `taken`. */
function placeDigit(rng: Rng, ink: readonly [number, number, number, number], size: number, taken: readonly Box[]): Placement {
  // Scene-to-tile scale; scenes are 64 px for 28 px tiles, so 0.85–1.3 gives 17–26 px tall digits.
  let scaleHi = 1.3 * (size / DEFAULT_SCENE_SIZE), scaleLo = 0.85 * (size / DEFAULT_SCENE_SIZE);
  for (let round = 0; round < 6; round++) {
    for (let attempt = 0; attempt < 40; attempt++) {
      const scale = uniform(rng, scaleLo, scaleHi);
      const angle = uniform(rng, -0.26, 0.26);
      const p: Placement = { cx: uniform(rng, 0, size), cy: uniform(rng, 0, size), scale, angle };
      const box = placedBox(p, ink);
      if (insideScene(box, size) && !taken.some((t) => boxesOverlap(t, box, 2))) return p;
    }
    scaleHi *= 0.85; scaleLo *= 0.85;
  }
  // A digit always fits alone; with a neighbour, fall back to the opposite corner at a small scale.
  return { cx: size * 0.25 + (taken.length ? size / 2 : 0), cy: size / 2, scale: 0.55 * size / DEFAULT_SCENE_SIZE, angle: 0 };
}

const FRAGMENTS: Record<Clutter, [number, number]> = { light: [0, 1], normal: [1, 3], heavy: [4, 8] };
const NOISE: Record<Clutter, [number, number]> = { light: [0, 0.02], normal: [0.01, 0.06], heavy: [0.06, 0.12] };

/** Pieces (at most ~45% of a digit's extent) of other source digits, kept off the real digits. */
function paintFragments(rng: Rng, set: MnistSet, pool: readonly number[], clutter: Clutter, digitBoxes: readonly Box[],
  bgLum: number, size: number, out: Float32Array): void {
  const [lo, hi] = FRAGMENTS[clutter];
  const n = randInt(rng, lo, hi);
  for (let f = 0; f < n; f++) {
    const index = pick(rng, pool);
    const ink = sourceInkBox(set, index);
    const w = randInt(rng, 7, 12), h = randInt(rng, 7, 12);
    const rx = randInt(rng, ink[0], Math.max(ink[0], ink[2] - w + 1));
    const ry = randInt(rng, ink[1], Math.max(ink[1], ink[3] - h + 1));
    const rect: [number, number, number, number] = [rx, ry, rx + w - 1, ry + h - 1];
    const colour = contrastingColour(rng, bgLum, 0.3);
    for (let attempt = 0; attempt < 20; attempt++) {
      const p: Placement = { cx: uniform(rng, 0, size), cy: uniform(rng, 0, size), scale: uniform(rng, 0.8, 1.3) * size / DEFAULT_SCENE_SIZE, angle: uniform(rng, -Math.PI, Math.PI) };
      const box = placedBox(p, rect);
      if (!digitBoxes.some((d) => boxesOverlap(d, box, 1))) {
        paintDigit(set, index, rect, p, colour, size, out, null);
        break;
      }
    }
  }
}

function addNoise(rng: Rng, clutter: Clutter, out: Float32Array): void {
  const [lo, hi] = NOISE[clutter];
  const sigma = uniform(rng, lo, hi);
  if (sigma <= 0) return;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i] + sigma * gaussian(rng)));
}

function maskAndBox(alpha: Float32Array, size: number): { mask: Uint8Array; box: Box } {
  const mask = new Uint8Array(size * size);
  let x0 = size, y0 = size, x1 = -1, y1 = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (alpha[y * size + x] >= MASK_THRESHOLD) {
        mask[y * size + x] = 1;
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return { mask, box: { x: 0, y: 0, width: 0, height: 0 } };
  return { mask, box: { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 } };
}

/**
 * Make one scene. Deterministic: the same options give the same pixels and truth, on any
 * machine, because all randomness comes from a PRNG seeded by (seed, index, split).
 */
export function generateScene(options: SceneOptions, set: MnistSet = loadMnist()): Scene {
  const size = options.size ?? DEFAULT_SCENE_SIZE;
  const rng = mulberry32(hashSeed(options.seed, options.index, options.split === 'train' ? 1 : 2));
  const count: 1 | 2 = options.labels ? (options.labels.length === 2 ? 2 : 1) : options.count ?? (rng() < 0.5 ? 1 : 2);
  const labels = options.labels ? [...options.labels] : chooseLabels(rng, count);
  const clutter = options.clutter ?? chooseClutter(rng);
  const pixels = new Float32Array(size * size * 3);
  const bgLum = paintBackground(rng, size, pixels);

  // Choose digits and placements first, so fragments can be kept off the digits' areas.
  const chosen = labels.map((label) => ({ label, index: pick(rng, splitIndices(set, options.split, label)) }));
  const taken: Box[] = [];
  const placements = chosen.map((d) => {
    const p = placeDigit(rng, sourceInkBox(set, d.index), size, taken);
    taken.push(placedBox(p, sourceInkBox(set, d.index)));
    return p;
  });
  paintFragments(rng, set, splitAll(set, options.split), clutter, taken, bgLum, size, pixels);

  const digits: DigitTruth[] = chosen.map((d, i) => {
    const colour = contrastingColour(rng, bgLum, 0.35);
    const alpha = new Float32Array(size * size);
    paintDigit(set, d.index, [0, 0, MNIST_SIZE - 1, MNIST_SIZE - 1], placements[i], colour, size, pixels, alpha);
    const { mask, box } = maskAndBox(alpha, size);
    return { label: d.label, box, mask, sourceIndex: d.index, colour };
  });
  addNoise(rng, clutter, pixels);
  return { width: size, height: size, pixels, labels, digits, split: options.split, seed: options.seed, index: options.index, clutter };
}

/** Scenes index … index+count-1 of a seed. */
export function generateScenes(base: Omit<SceneOptions, 'index'>, start: number, count: number, set: MnistSet = loadMnist()): Scene[] {
  const out: Scene[] = [];
  for (let i = 0; i < count; i++) out.push(generateScene({ ...base, index: start + i }, set));
  return out;
}

/** Whether (x, y) lies inside a box. */
export function inBox(box: Box, x: number, y: number): boolean {
  return x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
}
