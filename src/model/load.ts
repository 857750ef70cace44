import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { relativeTo } from '../host';
import { builtinModelPath, META_FILE, metaProblem, readModelMeta, attachModelMeta, modelMetaOf, type ModelMeta } from './builtin';
import { assertLayersModel, describeValue } from './inspect';
import { ensureBackend } from './backend';
import { isKeras3WeightName, keras3WeightNames, normalizeKeras3Topology } from './keras3';
import { registerPreprocessingLayers } from './preprocessing';
import { foreignTfjsError, isForeignTfjsObject } from './versions';

/**
 * Loading and saving tfjs layers models without tfjs-node.
 *
 * tfjs's own `file://` handler lives in tfjs-node, which cannot be installed offline, and its
 * http handler allocates every weight before anything is checked. So the whole model.json and
 * its weight manifest are validated here first (format, shapes, byte sizes, the memory limit,
 * shard files present and of the right length), and only then are tensors created, in two
 * scoped steps that clean up after themselves when something still fails.
 *
 * Loading never executes anything from the source: model.json is parsed as JSON, weight shards
 * are raw numbers, and tfjs rebuilds each layer by looking its `class_name` up in the table of
 * classes registered in this process (tf.serialization). A name that is not registered is
 * refused with MODEL_LOAD before any layer is built; no code is ever read from the model.
 */

/** Default ceiling on the memory the decoded weights may take: 1 GiB. */
export const DEFAULT_MAX_WEIGHT_BYTES = 1024 ** 3;
/** model.json itself is text; anything beyond this is not a model description we should parse. */
const MAX_MODEL_JSON_BYTES = 256 * 1024 ** 2;
const DEFAULT_TIMEOUT_MS = 60_000;
/** tfjs and tensorflowjs_converter split weights into 4 MiB shards; saveModel does the same. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 ** 2;

/** Where a model comes from: a path, an http(s)/file URL, 'builtin:NAME', or a model in memory. */
export type ModelSource = string | URL | tf.LayersModel | tf.GraphModel;

/**
 * A model tslab-cam can explain: a layers model (Keras conversion, model.save, tf.model) or a
 * graph model (a SavedModel / TF Hub conversion; node names play the role of layer names).
 */
export type ExplainableModel = tf.LayersModel | tf.GraphModel;

export interface LoadModelOptions {
  /**
   * Refuse a model whose weights would take more than this many bytes once decoded (float32 in
   * memory, also for quantized weights), before any shard is read. Default 1 GiB.
   */
  readonly maxWeightBytes?: number;
  /** Abort each HTTP request after this many ms. Default 60000. */
  readonly timeoutMs?: number;
}

/** What saveModel wrote. */
export interface SavedModelFiles {
  /** The folder holding the files. */
  readonly dir: string;
  /** Absolute path of model.json. */
  readonly modelJson: string;
  /** Absolute paths of the weight shards, in manifest order. */
  readonly weightFiles: readonly string[];
  /** The metadata file written beside model.json, or null when there was none to write. */
  readonly metaFile: string | null;
  readonly modelJsonBytes: number;
  readonly weightBytes: number;
  /** model.json + shards (+ metadata). */
  readonly totalBytes: number;
}

export interface SaveModelOptions {
  /** Split the weights into files of at most this many bytes. Default 4 MiB, like tfjs. */
  readonly shardBytes?: number;
  /** Metadata to store as tslab-cam.json; default: the metadata loadModel attached, if any. */
  readonly meta?: ModelMeta | null;
}

// ---------------------------------------------------------------------------------------------
// model.json validation

type Location = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'url'; readonly url: URL };

interface WeightGroup {
  readonly paths: readonly string[];
  readonly weights: readonly tf.io.WeightsManifestEntry[];
  /** Bytes the group's specs occupy in the shard files. */
  readonly storedBytes: number;
}

interface ParsedModelJson {
  /** 'graph' for a GraphDef (format "graph-model"), 'layers' for a Keras topology. */
  readonly kind: 'layers' | 'graph';
  readonly topology: Record<string, unknown>;
  /** Graph models: the signature and initializer graph tfjs-converter writes beside the GraphDef. */
  readonly signature?: Record<string, unknown>;
  readonly modelInitializer?: Record<string, unknown>;
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string | null;
  readonly userDefinedMetadata?: Record<string, object>;
  readonly groups: readonly WeightGroup[];
  readonly storedBytes: number;
  readonly memoryBytes: number;
}

const STORED_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };
const MEMORY_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

const CONVERT_FIX = 'Convert the model to TensorFlow.js first: a Keras model with ' +
  '`tensorflowjs_converter --input_format keras model.h5 out_dir` (or, from a Keras SavedModel, ' +
  '`tensorflowjs_converter --input_format keras_saved_model --output_format tfjs_layers_model saved_dir out_dir`), ' +
  'a SavedModel or TF Hub module with `tensorflowjs_converter --input_format tf_saved_model saved_dir out_dir` (a graph model); ' +
  'then load out_dir/model.json.';

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${n} bytes (${v.toFixed(1)} ${units[i]})`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function where(loc: Location): string {
  return loc.kind === 'file' ? loc.path : loc.url.href;
}

/**
 * The number of bytes one manifest entry takes in a shard file and in memory once decoded.
 * Quantized weights are stored as uint8/uint16/float16 and decoded to their `dtype`.
 */
export function weightSpecBytes(spec: tf.io.WeightsManifestEntry): { stored: number; memory: number } {
  const elements = spec.shape.reduce((a, b) => a * b, 1);
  const storedDtype = spec.quantization ? spec.quantization.dtype : spec.dtype;
  return { stored: elements * STORED_BYTES[storedDtype], memory: elements * MEMORY_BYTES[spec.dtype] };
}

function checkSpec(spec: unknown, i: number, file: string): tf.io.WeightsManifestEntry {
  const bad = (why: string): never => {
    throw new TslabCamError('MODEL_LOAD', `${file}: weightsManifest entry ${i} ${why}.`,
      'The model.json is damaged or not a TensorFlow.js model: re-export it with model.save or tensorflowjs_converter.');
  };
  if (!isRecord(spec)) return bad('is not an object');
  if (typeof spec.name !== 'string') return bad('has no name');
  const label = `('${spec.name}')`;
  if (!Array.isArray(spec.shape) || !spec.shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    return bad(`${label} has shape ${JSON.stringify(spec.shape)}; a shape is a list of whole numbers ≥ 0`);
  }
  if (spec.dtype === 'string') return bad(`${label} holds strings, which no layers-model weight does`);
  if (typeof spec.dtype !== 'string' || !(spec.dtype in MEMORY_BYTES)) return bad(`${label} has unknown dtype ${JSON.stringify(spec.dtype)}`);
  if (spec.quantization !== undefined) {
    const q = spec.quantization;
    if (!isRecord(q) || !['uint8', 'uint16', 'float16'].includes(q.dtype as string)) {
      return bad(`${label} has quantization ${JSON.stringify(q)}; its dtype must be uint8, uint16 or float16`);
    }
    if (q.dtype !== 'float16' && !(typeof q.scale === 'number' && typeof q.min === 'number')) {
      return bad(`${label} is ${String(q.dtype)}-quantized without numeric scale and min`);
    }
  }
  return spec as unknown as tf.io.WeightsManifestEntry;
}

/** Looks like a TensorFlow GraphDef (a graph model) rather than a Keras layers topology. */
function isGraphTopology(t: Record<string, unknown>): boolean {
  return 'node' in t || 'library' in t || 'versions' in t;
}

/** Parse and check model.json text: everything that can be known without reading a shard. */
function parseModelJson(text: string, file: string, maxWeightBytes: number): ParsedModelJson {
  let json: unknown;
  try {
    // Editors on Windows may prepend a byte-order mark, which JSON.parse rejects.
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    // V8 words a cut-off file in several ways; an error at the very end of the text means truncation.
    const msg = (e as Error).message;
    const at = /position (\d+)/.exec(msg);
    const truncated = /end of (JSON )?input|Unterminated/i.test(msg) || (at !== null && Number(at[1]) >= text.trimEnd().length - 1);
    throw new TslabCamError('MODEL_LOAD', `${file} is not valid JSON: ${(e as Error).message}${truncated ? ' (the file looks truncated)' : ''}.`,
      'The file is damaged or incomplete: copy or download model.json again (together with its .bin weight files), or re-export it.', { cause: e });
  }
  if (!isRecord(json)) {
    throw new TslabCamError('MODEL_LOAD', `${file} holds ${describeValue(json)}, not a model description.`,
      'Point loadModel at the model.json written by model.save or tensorflowjs_converter.');
  }
  const graph = json.format === 'graph-model' || (isRecord(json.modelTopology) && isGraphTopology(json.modelTopology));
  if (graph && !(isRecord(json.modelTopology) && Array.isArray(json.modelTopology.node))) {
    throw new TslabCamError('MODEL_LOAD', `${file} says it is a graph model but its "modelTopology" has no list of nodes.`,
      'The file is damaged: copy or download model.json again, or re-run tensorflowjs_converter.');
  }
  if (json.modelTopology === undefined || json.modelTopology === null) {
    if (json.weightsManifest !== undefined) {
      throw new TslabCamError('GRAPH_MODEL', `${file} has a weights manifest but no topology (modelTopology), so no model can be rebuilt from it.`, CONVERT_FIX);
    }
    throw new TslabCamError('MODEL_LOAD', `${file} has no "modelTopology": it is not a TensorFlow.js model.json.`,
      'Point loadModel at the model.json written by model.save or tensorflowjs_converter.');
  }
  if (!isRecord(json.modelTopology)) {
    throw new TslabCamError('MODEL_LOAD', `${file}: "modelTopology" is ${describeValue(json.modelTopology)}, not an object.`,
      'Re-export the model with model.save or tensorflowjs_converter.');
  }
  // Keras 3 configs are rewritten into the Keras 2 form tfjs 4.22 reads (keras3.ts).
  const topology = graph ? json.modelTopology : normalizeKeras3Topology(json.modelTopology);
  if (!graph) {
    const config = isRecord(topology.model_config) ? topology.model_config : topology;
    if (typeof config.class_name !== 'string' || !isRecord(config.config)) {
      throw new TslabCamError('GRAPH_MODEL', `${file} has no Keras layers topology (no model_config with class_name and config) and no graph (node list).`, CONVERT_FIX);
    }
    checkClassNames(config, file);
  }

  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) {
    throw new TslabCamError('MODEL_LOAD', `${file}: "weightsManifest" is ${describeValue(manifest)}, not a list of weight groups.`,
      'Re-export the model with model.save or tensorflowjs_converter.');
  }
  const groups: WeightGroup[] = [];
  let storedBytes = 0, memoryBytes = 0, index = 0;
  for (const [g, group] of manifest.entries()) {
    if (!isRecord(group) || !Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string') || !Array.isArray(group.weights)) {
      throw new TslabCamError('MODEL_LOAD', `${file}: weightsManifest group ${g + 1} needs "paths" (file names) and "weights" (specs).`,
        'Re-export the model with model.save or tensorflowjs_converter.');
    }
    const weights = group.weights.map((s) => checkSpec(s, index++, file));
    let groupStored = 0;
    for (const spec of weights) {
      const b = weightSpecBytes(spec);
      groupStored += b.stored;
      memoryBytes += b.memory;
    }
    if (groupStored > 0 && group.paths.length === 0) {
      throw new TslabCamError('MODEL_LOAD', `${file}: weightsManifest group ${g + 1} lists ${weights.length} weights but no weight files.`,
        'Re-export the model with model.save or tensorflowjs_converter.');
    }
    storedBytes += groupStored;
    groups.push({ paths: group.paths as string[], weights, storedBytes: groupStored });
  }
  // The limit is checked before any shard is read, so a hostile or mistaken manifest cannot make
  // us allocate; memoryBytes ≥ storedBytes (quantized weights grow when decoded).
  if (memoryBytes > maxWeightBytes) {
    throw new TslabCamError('MODEL_TOO_LARGE',
      `${file} declares weights that need ${fmtBytes(memoryBytes)} in memory, above the limit of ${fmtBytes(maxWeightBytes)}.`,
      `If you trust this model and have the memory, raise the limit: loadModel(source, { maxWeightBytes: ${Math.ceil(memoryBytes / 1024 ** 2) + 1} * 1024 ** 2 }); otherwise use a smaller model.`);
  }
  return {
    kind: graph ? 'graph' : 'layers', topology, groups, storedBytes, memoryBytes,
    signature: graph && isRecord(json.signature) ? json.signature : undefined,
    modelInitializer: graph && isRecord(json.modelInitializer) ? json.modelInitializer : undefined,
    format: typeof json.format === 'string' ? json.format : undefined,
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : undefined,
    convertedBy: typeof json.convertedBy === 'string' ? json.convertedBy : null,
    userDefinedMetadata: isRecord(json.userDefinedMetadata) ? (json.userDefinedMetadata as Record<string, object>) : undefined,
  };
}

/** Class names of model containers, whose config holds a list of layers to look into. */
const CONTAINER_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/**
 * Every layer class the topology names must be registered with tf.serialization; checking
 * first gives a clear error and avoids half-building a model (whose variables would leak).
 */
function checkClassNames(modelConfig: Record<string, unknown>, file: string): void {
  // Keras preprocessing layers tfjs lacks (Normalization) are registered on first use.
  registerPreprocessingLayers();
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  const unknown = new Set<string>();
  const visit = (layer: unknown): void => {
    if (!isRecord(layer) || typeof layer.class_name !== 'string') return;
    const name = layer.class_name;
    if (!Object.prototype.hasOwnProperty.call(known, name)) unknown.add(name);
    const cfg = layer.config;
    if (!isRecord(cfg)) return;
    if (CONTAINER_CLASSES.has(name) && Array.isArray(cfg.layers)) cfg.layers.forEach(visit);
    // Wrappers (TimeDistributed, Bidirectional) keep the wrapped layer under config.layer.
    if (isRecord(cfg.layer)) visit(cfg.layer);
  };
  visit(modelConfig);
  if (unknown.size > 0) {
    const names = [...unknown];
    throw new TslabCamError('MODEL_LOAD',
      `${file} uses layer class${names.length > 1 ? 'es' : ''} ${names.map((n) => `'${n}'`).join(', ')} that TensorFlow.js does not know. ` +
      'tfjs rebuilds layers only from classes registered in this process; nothing is ever executed from the file.',
      names.some((n) => /OpLambda$/.test(n))
        // tf_keras writes TFOpLambda for a TensorFlow function applied to a tensor, e.g. the x + 3 in keras.applications' MobileNetV3.
        ? 'TFOpLambda / SlicingOpLambda hold TensorFlow functions that Keras applied directly to tensors: convert the model as a graph model instead (save it as a SavedModel, then `tensorflowjs_converter --input_format tf_saved_model saved_dir out_dir`), which tslab-cam explains with node names, or rebuild those steps from layers (Rescaling, ReLU(6), Multiply, Add) and convert again.'
        : 'Replace custom layers by built-in ones before converting (e.g. a Lambda or custom activation by a standard layer), or register a JavaScript implementation with tf.serialization.registerClass before calling loadModel.');
  }
}

// ---------------------------------------------------------------------------------------------
// reading files and URLs

function fileError(e: unknown, file: string, what: string): TslabCamError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new TslabCamError('MODEL_LOAD', `${what} ${file} does not exist.`,
      what === 'Weight file'
        ? 'Copy every .bin file listed in model.json\'s weightsManifest next to model.json (they must stay together).'
        : `Check the path (${relativeTo()}), or use a URL or 'builtin:digits-gap'.`, { cause: e });
  }
  return new TslabCamError('MODEL_LOAD', `Could not read ${what.toLowerCase()} ${file}: ${(e as Error).message}.`,
    'Check that the file exists and is readable.', { cause: e });
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer
    ? b.buffer : (b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

/** Resolve a path or folder to model.json; explains SavedModel and .h5 inputs. */
function resolveModelFile(p: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch (e) {
    throw fileError(e, p, 'Model file');
  }
  if (stat.isDirectory()) {
    const inside = path.join(p, 'model.json');
    if (fs.existsSync(inside)) return inside;
    if (fs.existsSync(path.join(p, 'saved_model.pb'))) {
      throw new TslabCamError('GRAPH_MODEL', `${p} is a TensorFlow SavedModel folder, not a TensorFlow.js model.`, CONVERT_FIX);
    }
    const jsons = fs.readdirSync(p).filter((f) => f.endsWith('.json') && f !== META_FILE);
    throw new TslabCamError('MODEL_LOAD', `The folder ${p} has no model.json${jsons.length ? ` (it has ${jsons.join(', ')})` : ''}.`,
      jsons.length ? `Pass the path of the model's .json file itself, e.g. ${path.join(p, jsons[0])}.` : 'Pass the folder that model.save or tensorflowjs_converter wrote, or the path of its model.json.');
  }
  if (/\.(h5|hdf5|keras|pb|onnx|pt|pth)$/i.test(p)) {
    throw new TslabCamError('MODEL_LOAD', `${p} is not a TensorFlow.js model.json (its extension says ${path.extname(p)}).`, CONVERT_FIX);
  }
  return p;
}

function readModelJsonFile(file: string): string {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (e) {
    throw fileError(e, file, 'Model file');
  }
  if (size > MAX_MODEL_JSON_BYTES) {
    throw new TslabCamError('MODEL_LOAD', `${file} is ${fmtBytes(size)}; a model.json describes layers and is far smaller.`,
      'Point loadModel at model.json, not at a weight file.');
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw fileError(e, file, 'Model file');
  }
}

function fetchProblem(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'the request timed out';
  const cause = err.cause;
  const code = cause?.code ?? cause?.errors?.find((x) => x.code)?.code;
  if (code === 'ECONNREFUSED') return 'the connection was refused (nothing listens at that address and port)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name could not be resolved';
  return `${err.message}${code ? ` (${code})` : cause?.message ? ` (${cause.message})` : ''}`;
}

async function httpGet(url: URL, timeoutMs: number, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    throw new TslabCamError('MODEL_LOAD', `Could not download ${what} ${url.href}: ${fetchProblem(e)}.`,
      'Check the URL and that the server is running and reachable from this machine (or download the files and load the local model.json).', { cause: e });
  }
  // Redirects may move within the server, never to another origin (shards come from one place).
  if (res.url && new URL(res.url).origin !== url.origin) {
    await res.body?.cancel();
    throw new TslabCamError('MODEL_LOAD', `${url.href} redirected to another site (${new URL(res.url).origin}).`,
      'Load the model from the URL it finally lives at, so model.json and its weights come from one origin.');
  }
  return res;
}

/** Read a response body, stopping as soon as it exceeds `limit` bytes (a server may lie or stream forever). */
async function readBody(res: Response, limit: number): Promise<{ bytes: Uint8Array; over: boolean }> {
  if (!res.body) return { bytes: new Uint8Array(0), over: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return { bytes: new Uint8Array(0), over: true };
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return { bytes: out, over: false };
}

function looksLikeHtml(text: string, contentType: string): boolean {
  return /text\/html/i.test(contentType) || /^\s*<(!doctype|html|head|body|\?xml)/i.test(text);
}

async function fetchModelJson(url: URL, timeoutMs: number): Promise<string> {
  const res = await httpGet(url, timeoutMs, 'model.json');
  const type = res.headers.get('content-type') ?? '';
  const { bytes, over } = await readBody(res, MAX_MODEL_JSON_BYTES);
  const text = Buffer.from(bytes).toString('utf8');
  if (!res.ok) {
    throw new TslabCamError('MODEL_LOAD', `${url.href} answered HTTP ${res.status} ${res.statusText}${text ? `: ${snippet(text)}` : ''}.`,
      res.status === 404 ? 'Check the URL: it must point at model.json (the folder that holds it plus /model.json).' : 'Check the URL and the server; the model must be publicly readable over http(s).');
  }
  if (over) {
    throw new TslabCamError('MODEL_LOAD', `${url.href} sent more than ${fmtBytes(MAX_MODEL_JSON_BYTES)}; that is not a model.json.`, 'Point loadModel at model.json, not at a weight file.');
  }
  if (looksLikeHtml(text, type)) {
    throw new TslabCamError('MODEL_LOAD', `${url.href} returned an HTML page (content-type ${type || 'none'}: ${snippet(text)}) instead of model.json.`,
      'Use the raw file URL of model.json (e.g. on GitHub the "raw" link, not the page that shows the file), with its .bin files in the same folder.');
  }
  return text;
}

function snippet(text: string): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** Where a shard named in the manifest lives: next to model.json, never outside its folder/origin. */
function shardLocation(loc: Location, p: string): Location {
  if (loc.kind === 'url') {
    const u = new URL(p, loc.url);
    if (u.origin !== loc.url.origin) {
      throw new TslabCamError('MODEL_LOAD', `${loc.url.href} lists weight file ${p}, which is on another site (${u.origin}).`,
        'Weight files must come from the same origin as model.json: put them next to it and list them by relative name.');
    }
    return { kind: 'url', url: u };
  }
  const dir = path.dirname(loc.path);
  const file = path.resolve(dir, p);
  if (path.isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) || path.relative(dir, file).startsWith('..')) {
    throw new TslabCamError('MODEL_LOAD', `${loc.path} lists weight file ${p}, which is outside its folder.`,
      'Weight files must sit next to model.json and be listed by relative name; re-export the model.');
  }
  return { kind: 'file', path: file };
}

/** `got` is the byte count found, or a string such as 'more than 1234' when reading stopped early. */
function sizeMismatch(file: string, g: number, group: WeightGroup, shards: string[], got: number | string): TslabCamError {
  const short = typeof got === 'number' && got < group.storedBytes;
  return new TslabCamError('MODEL_LOAD',
    `${file}: the weight file${shards.length > 1 ? 's' : ''} of group ${g + 1} (${shards.join(', ')}) hold${shards.length > 1 ? '' : 's'} ${got} bytes, but the ${group.weights.length} weights listed for ${shards.length > 1 ? 'them' : 'it'} need ${group.storedBytes} bytes` +
    `${short ? ' (truncated or from another model)' : ' (from another model, or the manifest was edited)'}.`,
    'Copy or download model.json and all of its .bin files again, together, from the same export.');
}

/** Read every shard, checking presence and sizes before reading (files) or while reading (URLs). */
async function readShards(loc: Location, parsed: ParsedModelJson, timeoutMs: number): Promise<ArrayBuffer[]> {
  const file = where(loc);
  const out: ArrayBuffer[] = [];
  const locations = parsed.groups.map((g) => g.paths.map((p) => shardLocation(loc, p)));
  if (loc.kind === 'file') {
    // Stat everything first: a missing or mis-sized shard is reported before reading any bytes.
    for (const [g, group] of parsed.groups.entries()) {
      let sum = 0;
      for (const s of locations[g]) {
        const shard = (s as { path: string }).path;
        try {
          const st = fs.statSync(shard);
          if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
          sum += st.size;
        } catch (e) {
          throw fileError(e, shard, 'Weight file');
        }
      }
      if (sum !== group.storedBytes) throw sizeMismatch(file, g, group, [...group.paths], sum);
    }
    for (const group of locations) {
      for (const s of group) {
        const shard = (s as { path: string }).path;
        try {
          out.push(toArrayBuffer(fs.readFileSync(shard)));
        } catch (e) {
          throw fileError(e, shard, 'Weight file');
        }
      }
    }
    return out;
  }
  for (const [g, group] of parsed.groups.entries()) {
    let sum = 0;
    for (const [i, s] of locations[g].entries()) {
      const u = (s as { url: URL }).url;
      const res = await httpGet(u, timeoutMs, 'weight file');
      if (!res.ok) {
        await res.body?.cancel();
        throw new TslabCamError('MODEL_LOAD', `Weight file ${u.href} answered HTTP ${res.status} ${res.statusText}.`,
          'Every .bin file listed in model.json must be served from the same folder as model.json.');
      }
      const type = res.headers.get('content-type') ?? '';
      if (/text\/html/i.test(type)) {
        await res.body?.cancel();
        throw new TslabCamError('MODEL_LOAD', `Weight file ${u.href} returned an HTML page instead of binary weights.`,
          'Serve the .bin files as raw bytes next to model.json (on GitHub use the "raw" links).');
      }
      // Never accept more than the group still needs: a lying server cannot make us allocate.
      // A declared Content-Length that is too large is refused before reading the body.
      const room = group.storedBytes - sum;
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > room) {
        await res.body?.cancel();
        const last = i === locations[g].length - 1;
        throw sizeMismatch(file, g, group, [...group.paths], last ? sum + declared : `at least ${sum + declared}`);
      }
      const { bytes, over } = await readBody(res, room);
      if (over) throw sizeMismatch(file, g, group, [...group.paths], `more than ${group.storedBytes}`);
      sum += bytes.byteLength;
      out.push(toArrayBuffer(bytes));
    }
    if (sum !== group.storedBytes) throw sizeMismatch(file, g, group, [...group.paths], sum);
  }
  return out;
}

async function fetchMeta(url: URL, timeoutMs: number): Promise<ModelMeta | null> {
  const metaUrl = new URL(META_FILE, url);
  let res: Response;
  try {
    res = await fetch(metaUrl, { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return null; // metadata is optional; model.json itself came from this server a moment ago
  }
  if (!res.ok) { await res.body?.cancel(); return null; }
  const { bytes, over } = await readBody(res, 1024 ** 2);
  if (over) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null; // e.g. an HTML "not found" page served with status 200
  }
  const problem = metaProblem(parsed);
  if (problem) {
    throw new TslabCamError('MODEL_LOAD', `${metaUrl.href} cannot be used: ${problem}.`,
      `Fix or delete ${META_FILE}; without it images are resized to the model's input shape and scaled to [0, 1].`);
  }
  return parsed as ModelMeta;
}

// ---------------------------------------------------------------------------------------------
// building the model

/** Names of the tf variables registered now. */
function variableNames(): Set<string> {
  return new Set(Object.keys(tf.engine().registeredVariables));
}

/**
 * Dispose the tf variables registered since `before`: tfjs builds layers (and their variables)
 * one by one, so a topology that fails halfway would otherwise leak them.
 */
function disposeVariablesSince(before: Set<string>): void {
  const vars = tf.engine().registeredVariables;
  for (const name of Object.keys(vars)) if (!before.has(name)) vars[name].dispose();
}

/** The first line of an error's message, or its name when the message is empty (some tfjs asserts). */
function firstLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return e.message.split('\n')[0].trim() || `${e.constructor?.name ?? e.name} without a message`;
}

/** tfjs drops a Keras RNN cell name when matching (layer/cell/weight → layer/weight); so do we. */
function shortName(name: string): string {
  const t = name.split('/');
  return t.length >= 3 ? [...t.slice(0, -2), t[t.length - 1]].join('/') : name;
}

/**
 * Compare the model's variables with the manifest before decoding anything, so a mismatch gets a
 * message naming the weight rather than tfjs's generic one.
 */
function checkWeightsMatch(model: tf.LayersModel, specs: readonly tf.io.WeightsManifestEntry[], file: string): void {
  const byName = new Map<string, tf.io.WeightsManifestEntry>();
  for (const s of specs) { byName.set(s.name, s); byName.set(shortName(s.name), s); }
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const w of model.weights) {
    const spec = byName.get(w.originalName);
    if (!spec) { missing.push(w.originalName); continue; }
    if (spec.shape.length !== w.shape.length || spec.shape.some((d, i) => d !== w.shape[i])) {
      wrong.push(`${w.originalName}: file ${JSON.stringify(spec.shape)}, layer ${JSON.stringify(w.shape)}`);
    }
  }
  const fix = 'model.json\'s topology and its weightsManifest disagree: re-export both together from the same model.';
  if (missing.length) {
    throw new TslabCamError('MODEL_LOAD', `${file} has no weights for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}.`, fix);
  }
  if (wrong.length) {
    throw new TslabCamError('MODEL_LOAD', `${file} has weights of the wrong shape: ${wrong.slice(0, 5).join('; ')}.`, fix);
  }
}

/**
 * Builds run one at a time: the cleanup after a failed build disposes the variables registered
 * since its snapshot, which must not include those of another model built concurrently.
 */
let buildQueue: Promise<unknown> = Promise.resolve();

function buildModelSerially(parsed: ParsedModelJson, shards: ArrayBuffer[], file: string): Promise<tf.LayersModel> {
  const run = buildQueue.then(() => buildModel(parsed, shards, file));
  buildQueue = run.catch(() => undefined);
  return run;
}

async function buildModel(parsed: ParsedModelJson, shards: ArrayBuffer[], file: string): Promise<tf.LayersModel> {
  // Step 1: the topology alone. trainingConfig is left out on purpose: it would compile the model
  // and create optimizer state nobody needs for explanations.
  let model: tf.LayersModel;
  let before: Set<string> | null = null;
  try {
    model = await tf.loadLayersModel({
      load: async () => {
        // Snapshot as late as possible: tfjs deserialises synchronously right after this
        // resolves, so variables that appear in between are the ones it built.
        before = variableNames();
        return { modelTopology: parsed.topology, format: parsed.format, generatedBy: parsed.generatedBy, convertedBy: parsed.convertedBy ?? null, userDefinedMetadata: parsed.userDefinedMetadata };
      },
    });
  } catch (e) {
    if (before) disposeVariablesSince(before);
    if (e instanceof TslabCamError) throw e;
    throw new TslabCamError('MODEL_LOAD', `${file}: TensorFlow.js could not rebuild the layers (${firstLine(e)}).`,
      'The topology is damaged or uses a layer option this TensorFlow.js version does not support: re-export the model with built-in layers (tensorflowjs_converter, or model.save from tfjs).', { cause: e });
  }
  // Step 2: the weights. Any failure from here disposes the model, and the decoded tensors are
  // always disposed (loadWeights assigns their data to the variables, which keep it alive).
  try {
    let specs = parsed.groups.flatMap((g) => g.weights);
    if (specs.some((s) => isKeras3WeightName(s.name))) {
      // A Keras 3 export names weights by object path (layers/conv2d/vars/0): map them to the layers.
      const names = keras3WeightNames(parsed.topology, model);
      specs = specs.map((s) => ({ ...s, name: names.get(s.name) ?? s.name }));
    }
    const modelSpecs = specs.filter((s) => s.group !== 'optimizer');
    checkWeightsMatch(model, modelSpecs, file);
    const decoded = tf.io.decodeWeights(shards, specs);
    try {
      const named: tf.NamedTensorMap = {};
      for (const s of modelSpecs) named[s.name] = decoded[s.name];
      model.loadWeights(named, true);
    } finally {
      tf.dispose(Object.values(decoded));
    }
  } catch (e) {
    model.dispose();
    if (e instanceof TslabCamError) throw e;
    throw new TslabCamError('MODEL_LOAD', `${file}: the weights could not be loaded (${firstLine(e)}).`,
      'model.json and its .bin files must come from the same export: copy them again together.', { cause: e });
  }
  return model;
}

// ---------------------------------------------------------------------------------------------
// public API

function locate(source: string | URL): Location {
  if (source instanceof URL || /^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    let url: URL;
    try {
      url = source instanceof URL ? source : new URL(source);
    } catch (e) {
      throw new TslabCamError('MODEL_LOAD', `'${String(source)}' is not a valid URL.`, 'Pass an http(s) URL of model.json, or a file path.', { cause: e });
    }
    if (url.protocol === 'file:') return { kind: 'file', path: fileURLToPath(url) };
    if (url.protocol === 'http:' || url.protocol === 'https:') return { kind: 'url', url };
    throw new TslabCamError('MODEL_LOAD', `loadModel cannot read ${url.protocol} URLs (${url.href}).`,
      'Pass a file path, an http(s) URL of model.json, a tf.LayersModel, or \'builtin:NAME\'.');
  }
  return { kind: 'file', path: path.resolve(source) };
}

/** A tf.GraphModel that has been loaded (its executor holds a graph). */
function isLoadedGraphModel(m: tf.GraphModel): boolean {
  return (m as unknown as { executor?: unknown }).executor !== undefined;
}

/**
 * Builds a tf.GraphModel from checked artifacts. loadSync runs inside a tidy that returns the
 * weights, so a graph that fails to build (e.g. an op tfjs does not know) leaves no decoded
 * weight behind.
 */
function buildGraphModel(parsed: ParsedModelJson, shards: ArrayBuffer[], file: string): tf.GraphModel {
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: parsed.topology, format: parsed.format, generatedBy: parsed.generatedBy, convertedBy: parsed.convertedBy ?? null,
    weightSpecs: parsed.groups.flatMap((g) => g.weights), weightData: tf.io.concatenateArrayBuffers(shards),
    ...(parsed.signature ? { signature: parsed.signature } : {}),
    ...(parsed.modelInitializer ? { modelInitializer: parsed.modelInitializer } : {}),
    ...(parsed.userDefinedMetadata ? { userDefinedMetadata: parsed.userDefinedMetadata } : {}),
  };
  const model = new tf.GraphModel(tf.io.fromMemory(artifacts));
  try {
    tf.tidy(() => {
      model.loadSync(artifacts);
      return Object.values(model.weights).flat();
    });
  } catch (e) {
    throw new TslabCamError('MODEL_LOAD', `${file}: TensorFlow.js could not build the graph (${firstLine(e)}).`,
      'The graph uses an op this TensorFlow.js version does not run, or the file is damaged: re-run tensorflowjs_converter with the same TensorFlow.js version as tslab-cam (4.22), or convert the Keras model to a layers model instead.', { cause: e });
  }
  return model;
}

function checkOptions(options: LoadModelOptions): { maxWeightBytes: number; timeoutMs: number } {
  const maxWeightBytes = options.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(maxWeightBytes >= 0) || !(timeoutMs > 0)) {
    throw new TslabCamError('BAD_OPTION', `maxWeightBytes must be ≥ 0 and timeoutMs > 0 (got ${String(options.maxWeightBytes)}, ${String(options.timeoutMs)}).`,
      'Pass numbers, e.g. { maxWeightBytes: 2 * 1024 ** 3, timeoutMs: 60000 }, or leave them out.');
  }
  return { maxWeightBytes, timeoutMs };
}

/** A model object handed to loadModel: checked and returned as it is. */
function checkModelObject(source: unknown): ExplainableModel {
  if (source instanceof tf.GraphModel) {
    if (!isLoadedGraphModel(source)) {
      throw new TslabCamError('GRAPH_MODEL', 'This tf.GraphModel has not been loaded yet (new tf.GraphModel(url) only names the model).',
        'Pass the model that `await tf.loadGraphModel(url)` returns, or pass the URL or path of model.json to loadModel.');
    }
    return source;
  }
  // Same class name, different class: the notebook built it with another copy of tfjs.
  if (isForeignTfjsObject(source)) throw foreignTfjsError(source as object, 'model');
  assertLayersModel(source);
  return source;
}

/**
 * Load a TensorFlow.js model for explanation: a LayersModel or a GraphModel.
 *
 * `source` is one of:
 * - a path to model.json, or to the folder holding it (weights are read from disk next to it);
 * - an http(s) URL of model.json (weights are fetched relative to it, from the same origin only);
 * - `'builtin:NAME'`, one of the models shipped with tslab-cam (see builtinNames());
 * - a tf.LayersModel or a loaded tf.GraphModel already in memory, returned as is after a check.
 *
 * model.json may hold a layers model (format "layers-model": Keras conversions, model.save) or a
 * graph model (format "graph-model": SavedModel / TF Hub conversions); the result is a
 * tf.LayersModel or a tf.GraphModel accordingly (use `instanceof` to tell them apart, or
 * loadGraphModel / a 'builtin:' name when the kind is known).
 *
 * Everything is checked before any tensor exists: a corrupt or truncated model.json, an HTTP
 * error or HTML page, a refused connection, a missing or mis-sized weight file give MODEL_LOAD;
 * weights that would need more than `options.maxWeightBytes` (default 1 GiB) give
 * MODEL_TOO_LARGE before any weight file is read; a SavedModel folder or an .h5 file gives the
 * command that converts it. Nothing from the source is executed: tfjs rebuilds layers only from
 * classes registered in this process, by name, and unknown names are refused; a graph is a list
 * of tfjs ops, also looked up by name. Metadata stored beside model.json (tslab-cam.json; for a
 * URL, fetched from beside it when the server has it) is attached to layers models, so loadImage
 * preprocesses as the model expects.
 * No tensors are left behind when loading fails.
 */
export function loadModel(source: tf.GraphModel, options?: LoadModelOptions): Promise<tf.GraphModel>;
export function loadModel(source: tf.LayersModel | `builtin:${string}`, options?: LoadModelOptions): Promise<tf.LayersModel>;
export function loadModel(source: ModelSource, options?: LoadModelOptions): Promise<ExplainableModel>;
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<ExplainableModel> {
  const { maxWeightBytes, timeoutMs } = checkOptions(options);
  if (typeof source !== 'string' && !(source instanceof URL)) {
    const model = checkModelObject(source);
    await ensureBackend();
    return model;
  }
  if (typeof source === 'string' && source.startsWith('builtin:')) {
    return loadModel(builtinModelPath(source.slice('builtin:'.length)), options);
  }
  if (typeof source === 'string' && source.trim() === '') {
    throw new TslabCamError('MODEL_LOAD', 'The model source is an empty string.', "Pass a path to model.json, an http(s) URL, or 'builtin:digits-gap'.");
  }
  let loc = locate(source);
  let text: string;
  if (loc.kind === 'file') {
    loc = { kind: 'file', path: resolveModelFile(loc.path) };
    text = readModelJsonFile(loc.path);
  } else {
    text = await fetchModelJson(loc.url, timeoutMs);
  }
  const parsed = parseModelJson(text, where(loc), maxWeightBytes);
  if (parsed.kind === 'graph') {
    const shards = await readShards(loc, parsed, timeoutMs);
    await ensureBackend();
    return buildGraphModel(parsed, shards, where(loc));
  }
  // Metadata is checked before any tensor exists, so a bad tslab-cam.json cannot leak a model.
  const meta = loc.kind === 'file' ? readModelMeta(loc.path) : await fetchMeta(loc.url, timeoutMs);
  const shards = await readShards(loc, parsed, timeoutMs);
  // The first tensors are the weights: the backend is chosen now, after every check of the files.
  await ensureBackend();
  const model = await buildModelSerially(parsed, shards, where(loc));
  if (meta) attachModelMeta(model, meta);
  return model;
}

/**
 * Load a TensorFlow.js layers model (Keras conversion, model.save) with loadModel's checks, typed
 * as tf.LayersModel. A graph-model file is refused with GRAPH_MODEL (use loadModel or
 * loadGraphModel for those).
 */
export async function loadLayersModel(source: string | URL | tf.LayersModel, options: LoadModelOptions = {}): Promise<tf.LayersModel> {
  const model = await loadModel(source as ModelSource, options);
  if (model instanceof tf.LayersModel) return model;
  model.dispose();
  throw new TslabCamError('GRAPH_MODEL', `${String(source)} holds a graph model (a frozen TensorFlow graph), not a layers model.`,
    'Load it with loadModel(source) or loadGraphModel(source): every method explains graph models too, with node names in place of layer names.');
}

/**
 * Load a TensorFlow.js graph model (format "graph-model": tensorflowjs_converter's output for a
 * SavedModel or TF Hub module) from a path, a URL or a loaded tf.GraphModel, with loadModel's
 * checks. A layers-model file is refused with GRAPH_MODEL's opposite hint (use loadModel).
 */
export async function loadGraphModel(source: string | URL | tf.GraphModel, options: LoadModelOptions = {}): Promise<tf.GraphModel> {
  const model = await loadModel(source as ModelSource, options);
  if (model instanceof tf.GraphModel) return model;
  model.dispose();
  throw new TslabCamError('NOT_A_MODEL', `${String(source)} holds a layers model, not a graph model.`,
    'Load it with loadModel(source), which returns a tf.LayersModel for this file.');
}

/**
 * Save `model` into the folder `dir` (created if needed) as model.json (format "layers-model",
 * topology + weightsManifest) and weight shards of at most `options.shardBytes`, through a tfjs
 * IOHandler over node's fs (tfjs-node's file:// handler is not available here). Writes the
 * shards first and model.json last (via a temporary name), so an interrupted save never leaves a
 * model.json pointing at missing weights. Also writes tslab-cam.json when metadata is given or
 * attached. Returns the paths and byte counts.
 */
export async function saveModel(model: tf.LayersModel, dir: string, options: SaveModelOptions = {}): Promise<SavedModelFiles> {
  assertLayersModel(model);
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(shardBytes >= 1) || !Number.isFinite(shardBytes)) {
    throw new TslabCamError('BAD_OPTION', `shardBytes must be a positive number (got ${String(options.shardBytes)}).`, 'Leave it out for 4 MiB shards.');
  }
  const target = path.resolve(dir);
  try {
    fs.mkdirSync(target, { recursive: true });
  } catch (e) {
    throw new TslabCamError('MODEL_LOAD', `Could not create the folder ${target}: ${(e as Error).message}.`, 'Choose a folder you can write to.', { cause: e });
  }
  const modelJson = path.join(target, 'model.json');
  let result: Omit<SavedModelFiles, 'metaFile' | 'totalBytes'> | null = null;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const data = artifacts.weightData === undefined ? new Uint8Array(0)
      : new Uint8Array(tf.io.concatenateArrayBuffers(Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]));
    const count = Math.max(1, Math.ceil(data.byteLength / shardBytes));
    const names = count === 1 ? ['weights.bin'] : Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
    const weightFiles = names.map((n) => path.join(target, n));
    names.forEach((_, i) => fs.writeFileSync(weightFiles[i], data.subarray(i * shardBytes, Math.min(data.byteLength, (i + 1) * shardBytes))));
    const json = {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: names, weights: artifacts.weightSpecs ?? [] }],
      ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
    };
    const text = JSON.stringify(json);
    const tmp = `${modelJson}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, modelJson);
    result = { dir: target, modelJson, weightFiles, modelJsonBytes: Buffer.byteLength(text), weightBytes: data.byteLength };
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
  const saved = result as Omit<SavedModelFiles, 'metaFile' | 'totalBytes'> | null;
  if (!saved) throw new TslabCamError('MODEL_LOAD', 'tfjs did not hand the model artifacts to the save handler.', 'Report this as a bug in tslab-cam.');
  const meta = options.meta === undefined ? modelMetaOf(model) : options.meta;
  let metaFile: string | null = null;
  let metaBytes = 0;
  if (meta) {
    metaFile = path.join(target, META_FILE);
    const text = JSON.stringify(meta, null, 2) + '\n';
    fs.writeFileSync(metaFile, text);
    metaBytes = Buffer.byteLength(text);
  }
  return { ...saved, metaFile, totalBytes: saved.modelJsonBytes + saved.weightBytes + metaBytes };
}

/**
 * A tfjs IOHandler that reads model.json and its shards from disk with the same checks as
 * loadModel (for code that wants to call tf.loadLayersModel itself).
 */
export function modelFileIOHandler(modelJsonPath: string, options: LoadModelOptions = {}): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const file = resolveModelFile(path.resolve(modelJsonPath));
      const parsed = parseModelJson(readModelJsonFile(file), file, options.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES);
      if (parsed.kind === 'graph') {
        throw new TslabCamError('GRAPH_MODEL', `${file} is a graph model; this handler feeds tf.loadLayersModel.`, 'Load it with loadModel(path) or loadGraphModel(path) instead.');
      }
      const shards = await readShards({ kind: 'file', path: file }, parsed, DEFAULT_TIMEOUT_MS);
      return {
        modelTopology: parsed.topology, format: parsed.format, generatedBy: parsed.generatedBy, convertedBy: parsed.convertedBy ?? null,
        weightSpecs: parsed.groups.flatMap((g) => g.weights), weightData: tf.io.concatenateArrayBuffers(shards),
      };
    },
  };
}
