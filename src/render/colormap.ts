/**
 * Colour maps shared by the interactive figures (as plotly colour scales) and the PNG fallbacks
 * (as lookup functions), so both show the same colours for the same value.
 */

/** An RGB colour with 0–255 channels. */
export type Rgb = readonly [number, number, number];

/** The colour scales this library draws with. */
export type ColormapName = 'viridis' | 'jet' | 'gray' | 'rdbu';

/** Evenly spaced anchor colours; values between anchors are interpolated linearly in RGB. */
const ANCHORS: Record<ColormapName, readonly string[]> = {
  // Perceptually uniform and readable in grey and by colour-blind readers: the default.
  viridis: ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'],
  // The rainbow map the Grad-CAM paper's figures use: dark blue → blue → cyan → yellow → red → dark red.
  jet: ['#00007f', '#0000ff', '#007fff', '#00ffff', '#7fff7f', '#ffff00', '#ff7f00', '#ff0000', '#7f0000'],
  gray: ['#000000', '#ffffff'],
  // Diverging, for signed quantities such as weights and gradients (blue negative, red positive).
  rdbu: ['#2166ac', '#67a9cf', '#d1e5f0', '#f7f7f7', '#fddbc7', '#ef8a62', '#b2182b'],
};

/** The default colour map (perceptual). */
export const DEFAULT_COLORMAP: ColormapName = 'viridis';

function hexToRgb(hex: string): Rgb {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const ANCHOR_RGB: Record<ColormapName, readonly Rgb[]> = {
  viridis: ANCHORS.viridis.map(hexToRgb),
  jet: ANCHORS.jet.map(hexToRgb),
  gray: ANCHORS.gray.map(hexToRgb),
  rdbu: ANCHORS.rdbu.map(hexToRgb),
};

/** True for the names `colormap()` accepts. */
export function isColormapName(name: string): name is ColormapName {
  return Object.prototype.hasOwnProperty.call(ANCHORS, name);
}

/** The colour of `t` in [0, 1] (clamped; NaN gives the lowest colour). */
export function colormap(name: ColormapName, t: number): Rgb {
  const anchors = ANCHOR_RGB[name];
  const u = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = u * (anchors.length - 1);
  const i = Math.min(anchors.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = anchors[i];
  const b = anchors[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/** A 256-entry lookup table (r, g, b per entry) for fast per-pixel colouring. */
export function colormapTable(name: ColormapName): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = colormap(name, i / 255);
    lut[i * 3] = r;
    lut[i * 3 + 1] = g;
    lut[i * 3 + 2] = b;
  }
  return lut;
}

/** The same map as a plotly colour scale: [[position, 'rgb(r,g,b)'], ...]. */
export function plotlyColorscale(name: ColormapName): [number, string][] {
  const anchors = ANCHOR_RGB[name];
  return anchors.map((c, i) => [i / (anchors.length - 1), `rgb(${c[0]},${c[1]},${c[2]})`]);
}
