/**
 * Draws docs/result.png for the README from the built-in model and a committed sample: the
 * comparison row (input, CAM, Grad-CAM, guided backprop, guided Grad-CAM) for one class of the
 * two-digit scene. Regenerate after retraining: node -r ts-node/register scripts/make-readme-figure.ts
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tc from '../src/index';

async function main(): Promise<void> {
  await tc.initBackend();
  const model = await tc.loadModel('builtin:digits-gap');
  const sample = tc.builtinSamples().find((s) => s.name === 'two-digits');
  if (!sample) throw new Error('sample two-digits missing');
  const x = await tc.loadImage(sample.path, { model });
  const c = sample.labels[1];
  const gg = tc.guidedGradCam(model, x, { classIndex: c });
  const figure = tc.comparison({ cam: tc.cam(model, x, { classIndex: c }), gradCam: gg.gradCam, guided: gg.guided, guidedGradCam: gg });
  const out = path.join(__dirname, '..', 'docs', 'result.png');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  tc.savePng(figure, out);
  console.log(`wrote ${path.relative(process.cwd(), out)} (class ${c} of the digits ${sample.labels.join(' and ')})`);
}

void main();
