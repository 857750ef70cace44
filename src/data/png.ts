import { encodeRgbaPng } from '../model/canvas';

/** Encode an RGB float image (height×width×3 in [0, 1]) as PNG bytes (on the reused encoder canvas). */
export function rgbToPng(pixels: Float32Array, width: number, height: number, zoom = 1): Buffer {
  const W = width * zoom;
  const H = height * zoom;
  const px = new Uint8ClampedArray(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = (Math.floor(y / zoom) * width + Math.floor(x / zoom)) * 3;
      const d = (y * W + x) * 4;
      for (let c = 0; c < 3; c++) px[d + c] = Math.round(Math.min(1, Math.max(0, pixels[s + c])) * 255);
      px[d + 3] = 255;
    }
  }
  return encodeRgbaPng(px, W, H);
}
