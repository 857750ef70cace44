/**
 * Keras 3 model configs rewritten into the Keras 2 form that tfjs-layers 4.22 reads.
 *
 * tensorflowjs_converter stores a Keras model's `get_config()` as it finds it. Keras 3 changed
 * that config in ways tfjs 4.22's deserialiser does not follow (it fails with "Corrupted
 * configuration, expected array for nodeData"):
 *  - a layer's inbound nodes are `{args: [...], kwargs: {...}}` whose tensors are
 *    `{class_name: "__keras_tensor__", config: {keras_history: [layer, node, index]}}`, where
 *    Keras 2 wrote `[[layer, node, index, kwargs], ...]`;
 *  - `input_layers` / `output_layers` of a one-input (one-output) model may be a single
 *    `[layer, node, index]` triple rather than a list of them;
 *  - InputLayer takes `batch_shape` (Keras 2: `batch_input_shape`);
 *  - `dtype` is a serialised `DTypePolicy` object, not a string;
 *  - every serialised object carries `module`, `registered_name`, and layers a `build_config`.
 * The rewrite keeps everything else as it is. It reads only JSON: nothing from the file runs.
 */
import { TslabCamError } from '../errors';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isKerasTensor(v: unknown): v is { config: { keras_history: [string, number, number] } } {
  return isRecord(v) && v.class_name === '__keras_tensor__' && isRecord(v.config) && Array.isArray(v.config.keras_history);
}

function isKeras3Node(node: unknown): node is { args?: unknown[]; kwargs?: Json } {
  return isRecord(node) && ('args' in node || 'kwargs' in node);
}

/** Whether a model topology (model.json's modelTopology) was written by Keras 3. */
export function isKeras3Topology(topology: Json): boolean {
  const version = typeof topology.keras_version === 'string' ? topology.keras_version : '';
  if (/^3\./.test(version)) return true;
  let found = false;
  const visit = (v: unknown): void => {
    if (found) return;
    if (Array.isArray(v)) { v.forEach(visit); return; }
    if (!isRecord(v)) return;
    if ('build_config' in v || isKeras3Node(v) || isKerasTensor(v) || (v.class_name === 'DTypePolicy')) { found = true; return; }
    if (isRecord(v.config) && 'batch_shape' in v.config && v.class_name === 'InputLayer') { found = true; return; }
    Object.values(v).forEach(visit);
  };
  visit(topology);
  return found;
}

/** `DTypePolicy("float32")` → "float32"; mixed policies compute in float32 in tfjs. */
function dtypeOf(v: unknown): unknown {
  if (!isRecord(v) || !/DTypePolicy$/.test(String(v.class_name))) return v;
  const name = isRecord(v.config) && typeof v.config.name === 'string' ? v.config.name : 'float32';
  return name.startsWith('mixed_') ? 'float32' : name;
}

/** A serialised object (initializer, regulariser, constraint …) without Keras 3's extra keys. */
function plainObject(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plainObject);
  if (!isRecord(v)) return v;
  if (/DTypePolicy$/.test(String(v.class_name))) return dtypeOf(v);
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'module' || k === 'registered_name' || k === 'build_config' || k === 'compile_config') continue;
    out[k] = k === 'dtype' ? dtypeOf(x) : plainObject(x);
  }
  return out;
}

/** The tensors an inbound node's args name, in order (nested lists flattened, as Add's [[a, b]]). */
function tensorsIn(args: unknown, out: Array<[string, number, number]> = []): Array<[string, number, number]> {
  if (isKerasTensor(args)) out.push(args.config.keras_history);
  else if (Array.isArray(args)) args.forEach((a) => tensorsIn(a, out));
  return out;
}

/** `{args, kwargs}` → `[[layer, node, index, kwargs], …]`. */
function keras2Node(node: unknown, layer: string): unknown {
  if (!isKeras3Node(node)) return node;
  const inputs = tensorsIn(node.args ?? []);
  if (inputs.length === 0) {
    throw new TslabCamError('MODEL_LOAD', `Layer '${layer}' is called on no Keras tensor in the Keras 3 config (its arguments are ${JSON.stringify(node.args).slice(0, 80)}).`,
      'Re-export the model from Keras with every layer called on the outputs of other layers.');
  }
  const kwargs = isRecord(node.kwargs) ? Object.fromEntries(Object.entries(node.kwargs).filter(([, v]) => v !== null && !isKerasTensor(v))) : {};
  return inputs.map(([name, n, t]) => [name, n, t, kwargs]);
}

/** `[l, n, t]` or `[[l, n, t], …]` → `[[l, n, t], …]`. */
function tripleList(v: unknown): unknown {
  return Array.isArray(v) && v.length === 3 && typeof v[0] === 'string' ? [v] : v;
}

/** Keras 3 puts `keras.ops` calls on tensors into functional models as layers tfjs cannot rebuild. */
function checkOperationLayer(layer: Json): void {
  const module = typeof layer.module === 'string' ? layer.module : '';
  if (/(^|\.)ops(\.|$)/.test(module)) {
    throw new TslabCamError('MODEL_LOAD',
      `Layer '${String(layer.name ?? (isRecord(layer.config) ? layer.config.name : '?'))}' is the Keras operation ${module}.${String(layer.class_name)}, written by Keras 3 where the model applies an operator or keras.ops function to a tensor (e.g. x + y); TensorFlow.js has no layer for it.`,
      'In the Keras model use the matching layer instead (layers.Add, layers.Multiply, layers.Rescaling, layers.Activation …), then convert again.');
  }
}

function layerEntry(layer: unknown): unknown {
  if (!isRecord(layer)) return layer;
  checkOperationLayer(layer);
  const { config, inbound_nodes: nodes, ...rest } = layer;
  const out = plainObject(rest) as Json;
  const name = String(layer.name ?? (isRecord(config) ? config.name : ''));
  if (isRecord(config)) out.config = containerConfig(String(layer.class_name), config);
  if (Array.isArray(nodes)) out.inbound_nodes = nodes.map((n) => keras2Node(n, name));
  return out;
}

/** A layer's (or a nested model's) config in Keras 2 form; `config` is the original (Keras 3) one. */
function containerConfig(className: string, config: Json): Json {
  const { layers, ...rest } = config;
  const out = plainObject(rest) as Json;
  if (className === 'InputLayer' && 'batch_shape' in out && !('batch_input_shape' in out)) {
    out.batch_input_shape = out.batch_shape;
    delete out.batch_shape;
  }
  if (className === 'InputLayer') delete out.optional;
  if (Array.isArray(layers)) out.layers = layers.map(layerEntry);
  if ('input_layers' in out) out.input_layers = tripleList(out.input_layers);
  if ('output_layers' in out) out.output_layers = tripleList(out.output_layers);
  return out;
}

/**
 * The Keras 2 form of a Keras 3 model topology (model.json's modelTopology, either
 * {model_config, keras_version, …} or the model config itself). Returns the input unchanged when
 * it is not Keras 3. A Keras operation used as a layer is refused with MODEL_LOAD naming it.
 */
export function normalizeKeras3Topology(topology: Json): Json {
  if (!isKeras3Topology(topology)) return topology;
  const rewrite = (model: Json): Json => {
    checkOperationLayer(model);
    const { config, ...rest } = model;
    const plain = plainObject(rest) as Json;
    return isRecord(config) ? { ...plain, config: containerConfig(String(model.class_name), config) } : plain;
  };
  if (isRecord(topology.model_config)) return { ...topology, model_config: rewrite(topology.model_config) };
  return rewrite(topology);
}

/** Keras's `to_snake_case` for class names: "BatchNormalization" → "batch_normalization", "Conv2D" → "conv2d". */
export function kerasSnakeCase(name: string): string {
  return name.replace(/\W+/g, '').replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Keras 3 weight names: "layers/<path>/vars/<i>" (a `.keras` file's variable paths). */
export function isKeras3WeightName(name: string): boolean {
  return /(^|\/)vars\/\d+$/.test(name);
}

/**
 * Keras 3 names a model's weights by where they sit in its object tree, not by layer name:
 * `layers/<snake_case(class)>[_n]/vars/<i>`, where n counts earlier layers of the same class in
 * the model's layer list and i is the variable's creation order (nested models add
 * `layers/<model>/layers/…`). tfjs 4.22 does not map these ("Provided weight data has no target
 * variable: layers/batch_normalization/vars/0"). Given the (Keras 2 form) topology and the model
 * tfjs built from it, this returns each Keras 3 name → the tfjs variable's name; tfjs's weight
 * order per layer (kernel, bias; BatchNorm γ, β, moving mean, moving variance) is Keras's.
 */
export function keras3WeightNames(topology: Json, model: { getLayer(name: string): unknown }): Map<string, string> {
  const out = new Map<string, string>();
  const modelConfig = isRecord(topology.model_config) ? topology.model_config : topology;
  const walk = (layers: unknown, prefix: string, container: { getLayer(name: string): unknown }): void => {
    if (!Array.isArray(layers)) return;
    const used = new Map<string, number>();
    for (const entry of layers) {
      if (!isRecord(entry) || typeof entry.class_name !== 'string') continue;
      const snake = kerasSnakeCase(entry.class_name);
      // Keras's uniquify: the first is "conv2d", then "conv2d_1", "conv2d_2" …
      const seen = used.get(snake) ?? 0;
      used.set(snake, seen + 1);
      const path = `${prefix}/${seen === 0 ? snake : `${snake}_${seen}`}`;
      const name = isRecord(entry.config) && typeof entry.config.name === 'string' ? entry.config.name : String(entry.name);
      let layer: unknown;
      try {
        layer = container.getLayer(name);
      } catch {
        continue;
      }
      const nested = isRecord(entry.config) ? entry.config.layers : undefined;
      if (Array.isArray(nested) && layer && typeof (layer as { getLayer?: unknown }).getLayer === 'function') {
        walk(nested, `${path}/layers`, layer as { getLayer(name: string): unknown });
        continue;
      }
      const weights = (layer as { weights?: Array<{ originalName: string }> }).weights ?? [];
      weights.forEach((w, i) => out.set(`${path}/vars/${i}`, w.originalName));
    }
  };
  if (isRecord(modelConfig.config)) walk(modelConfig.config.layers, 'layers', model);
  return out;
}
