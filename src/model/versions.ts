/**
 * Objects made by another copy of @tensorflow/tfjs.
 *
 * A notebook folder with its own `@tensorflow/tfjs` at another version than tslab-cam's gets two
 * copies (npm nests tslab-cam's). A model or tensor built with the notebook's copy is not an
 * instance of tslab-cam's classes, so every `instanceof` check fails, and code that went on
 * anyway would fail deep inside tfjs. These helpers recognise such objects by class name and
 * name both versions, so the error comes at once and says how to align them.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';

const TFJS_CLASSES = new Set(['LayersModel', 'Sequential', 'Functional', 'GraphModel', 'Tensor', 'Variable', 'SymbolicTensor']);

/** The folder of the @tensorflow/tfjs package a module file belongs to, or null. */
function tfjsRoot(file: string): string | null {
  const m = /^(.*[\\/]node_modules[\\/]@tensorflow[\\/]tfjs)[\\/]/.exec(file);
  return m ? m[1] : null;
}

function versionAt(root: string): string | null {
  try {
    const v = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** tslab-cam's own @tensorflow/tfjs folder. */
function ownRoot(): string | null {
  try {
    return tfjsRoot(require.resolve('@tensorflow/tfjs'));
  } catch {
    return null;
  }
}

/**
 * Other copies of @tensorflow/tfjs loaded in this process (found among the loaded modules), as
 * "version (folder)". Empty when only tslab-cam's copy is loaded.
 */
export function otherTfjsCopies(): string[] {
  const own = ownRoot();
  const roots = new Set<string>();
  for (const file of Object.keys(require.cache)) {
    const root = tfjsRoot(file);
    if (root && root !== own) roots.add(root);
  }
  return [...roots].map((r) => `${versionAt(r) ?? 'unknown version'} (${r})`);
}

/** Whether `value` looks like a tfjs model or tensor made by a copy of tfjs other than ours. */
export function isForeignTfjsObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof tf.LayersModel || value instanceof tf.GraphModel || value instanceof tf.Tensor || value instanceof tf.SymbolicTensor) return false;
  return TFJS_CLASSES.has((value as object).constructor?.name ?? '');
}

/**
 * The error for an object from another tfjs copy: names tslab-cam's version, the other
 * version(s) found loaded, and how to use one copy. `what` names the argument ("model", "image").
 */
export function foreignTfjsError(value: object, what: string): TslabCamError {
  const cls = value.constructor?.name ?? 'object';
  const others = otherTfjsCopies();
  const theirs = others.length > 0 ? `@tensorflow/tfjs ${others.join(' and ')}` : 'another copy of @tensorflow/tfjs';
  return new TslabCamError(what === 'image' ? 'BAD_IMAGE' : 'NOT_A_MODEL',
    `The ${what} is a ${cls} made by ${theirs}, but tslab-cam runs on its own @tensorflow/tfjs ${tf.version.tfjs}: objects of one copy cannot be used by the other.`,
    `Use one copy of TensorFlow.js. In the notebook's folder run \`npm install @tensorflow/tfjs@${tf.version.tfjs}\` (npm then shares it with tslab-cam; restart the kernel), ` +
    'or build the model and tensors with tslab-cam\'s own tf (`import { tf } from "tslab-cam"`), ' +
    'or save the model with model.save(...) and load the saved model.json with tslab-cam\'s loadModel.');
}
