import { createCanvas } from '@napi-rs/canvas';

/** Encode an RGB float image (height×width×3 in [0, 1]) as PNG bytes. */
export function rgbToPng(pixels: Float32Array, width: number, height: number, zoom = 1): Buffer {
  const canvas = createCanvas(width * zoom, height * zoom);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width * zoom, height * zoom);
  for (let y = 0; y < height * zoom; y++) {
    for (let x = 0; x < width * zoom; x++) {
      const s = (Math.floor(y / zoom) * width + Math.floor(x / zoom)) * 3;
      const d = (y * width * zoom + x) * 4;
      for (let c = 0; c < 3; c++) img.data[d + c] = Math.round(Math.min(1, Math.max(0, pixels[s + c])) * 255);
      img.data[d + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas.toBuffer('image/png');
}
