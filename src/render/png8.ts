/**
 * Indexed-colour (PNG-8) encoding for the static fallbacks. A fallback appears twice in a saved
 * notebook (image/png and the <img> inside text/html), so its size counts double; overlays of
 * photographs have far more than 256 colours and compress poorly as truecolour PNG. Median-cut
 * quantisation to at most 256 colours keeps them readable at roughly a third of the bytes.
 * Images with ≤ 256 colours are encoded losslessly.
 */
import { deflateSync } from 'zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data and the CRC-32 of type and data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.length).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A PNG with colour type 3 (palette) from per-pixel palette indices. */
export function encodeIndexedPng(indices: Uint8Array, palette: Uint8Array, width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // indexed colour
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none (best for palette images)
    Buffer.from(indices.buffer, indices.byteOffset + y * width, width).copy(raw, y * (width + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('PLTE', palette),
    pngChunk('IDAT', deflateSync(raw, { level: 9 })),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

interface Box {
  bins: number[];
  count: number;
}

/** 5 bits per channel: the histogram has 32768 bins. */
function binOf(r: number, g: number, b: number): number {
  return ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
}

/** Splits colour boxes at the median of their widest channel until there are `max` boxes. */
function medianCut(hist: Uint32Array, max: number): Box[] {
  const first: number[] = [];
  let total = 0;
  for (let i = 0; i < hist.length; i++) if (hist[i]) {
    first.push(i);
    total += hist[i];
  }
  const boxes: Box[] = [{ bins: first, count: total }];
  const channel = (bin: number, c: number) => (bin >> (10 - 5 * c)) & 31;
  while (boxes.length < max) {
    // Split the box with the most pixels that still has more than one colour.
    let pick = -1;
    for (let i = 0; i < boxes.length; i++) {
      if (boxes[i].bins.length > 1 && (pick < 0 || boxes[i].count > boxes[pick].count)) pick = i;
    }
    if (pick < 0) break;
    const box = boxes[pick];
    let widest = 0;
    let widestRange = -1;
    for (let c = 0; c < 3; c++) {
      let lo = 31;
      let hi = 0;
      for (const bin of box.bins) {
        const v = channel(bin, c);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > widestRange) {
        widestRange = hi - lo;
        widest = c;
      }
    }
    box.bins.sort((a, b) => channel(a, widest) - channel(b, widest));
    let acc = 0;
    let cut = 1;
    for (let i = 0; i < box.bins.length - 1; i++) {
      acc += hist[box.bins[i]];
      cut = i + 1;
      if (acc >= box.count / 2) break;
    }
    const a = box.bins.slice(0, cut);
    const b = box.bins.slice(cut);
    const countOf = (bins: number[]) => bins.reduce((s, x) => s + hist[x], 0);
    boxes.splice(pick, 1, { bins: a, count: countOf(a) }, { bins: b, count: countOf(b) });
  }
  return boxes;
}

/**
 * RGBA pixels (alpha ignored) as a PNG-8: exact when the image has ≤ 256 colours, otherwise
 * median-cut quantised to 256 colours (pixel-weighted box means).
 */
export function encodePng8(px: Uint8ClampedArray, width: number, height: number): Buffer {
  const n = width * height;
  // Exact palette when it fits.
  const exact = new Map<number, number>();
  const indices = new Uint8Array(n);
  let fits = true;
  for (let i = 0; i < n && fits; i++) {
    const key = (px[i * 4] << 16) | (px[i * 4 + 1] << 8) | px[i * 4 + 2];
    let idx = exact.get(key);
    if (idx === undefined) {
      if (exact.size === 256) {
        fits = false;
        break;
      }
      idx = exact.size;
      exact.set(key, idx);
    }
    indices[i] = idx;
  }
  if (fits) {
    const palette = new Uint8Array(exact.size * 3);
    for (const [key, idx] of exact) palette.set([key >> 16, (key >> 8) & 255, key & 255], idx * 3);
    return encodeIndexedPng(indices, palette, width, height);
  }
  const hist = new Uint32Array(32768);
  for (let i = 0; i < n; i++) hist[binOf(px[i * 4], px[i * 4 + 1], px[i * 4 + 2])]++;
  const boxes = medianCut(hist, 256);
  // Palette entries are the pixel-weighted means of each box's pixels.
  const binToBox = new Int32Array(32768).fill(-1);
  boxes.forEach((box, k) => box.bins.forEach((bin) => (binToBox[bin] = k)));
  const sums = new Float64Array(boxes.length * 4);
  for (let i = 0; i < n; i++) {
    const k = binToBox[binOf(px[i * 4], px[i * 4 + 1], px[i * 4 + 2])];
    sums[k * 4] += px[i * 4];
    sums[k * 4 + 1] += px[i * 4 + 1];
    sums[k * 4 + 2] += px[i * 4 + 2];
    sums[k * 4 + 3] += 1;
  }
  const palette = new Uint8Array(boxes.length * 3);
  for (let k = 0; k < boxes.length; k++) {
    const c = Math.max(1, sums[k * 4 + 3]);
    palette.set([Math.round(sums[k * 4] / c), Math.round(sums[k * 4 + 1] / c), Math.round(sums[k * 4 + 2] / c)], k * 3);
  }
  for (let i = 0; i < n; i++) indices[i] = binToBox[binOf(px[i * 4], px[i * 4 + 1], px[i * 4 + 2])];
  return encodeIndexedPng(indices, palette, width, height);
}
