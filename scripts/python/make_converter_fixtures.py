"""Builds small models with random weights in TensorFlow, converts them with the real
tensorflowjs_converter, and writes the outputs under test/fixtures/converted/ (run by
scripts/make-converter-fixtures.sh inside .venv-convert; by hand, not in CI).

Each fixture folder holds the converter's output unchanged, plus expected.json: TensorFlow's own
output on a deterministic input (probe_input below; test/model/converted.test.ts builds the same),
so a test can check that the converted model computes what TensorFlow computed.

  keras2-h5        tf_keras (Keras 2) functional CNN, saved .h5 -> --input_format=keras (layers model)
  keras3-keras     the same layout in Keras 3, saved .keras -> --input_format=keras_keras (layers model)
  saved-model      keras2-h5's model and weights as a SavedModel -> tfjs_graph_model; its layers twin
                   is keras2-h5
  rescaling        tf_keras CNN that starts with Rescaling(1/255, offset -0.5) -> layers model
  normalization    tf_keras CNN that starts with Normalization(mean, variance) -> layers model
  mobilenetv3-small  tf_keras.applications.MobileNetV3Small(64x64, alpha 0.5, 10 classes, random
                   weights) -> layers model. Its hard-sigmoid is written `ReLU(6)(x + 3) * (1/6)`, and
                   `x + 3` on a Keras tensor is saved as a TFOpLambda layer.
  mobilenetv3-small-layers  the same MobileNetV3-small layout (blocks, kernel sizes, expansions,
                   squeeze-excite, hard-swish) at 64x64, alpha 0.5, written with standard layers only:
                   x + 3 as Rescaling(1, offset=3), the excite as GAP -> Reshape -> 1x1 convs -> Multiply.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
import keras  # noqa: E402  (Keras 3, TensorFlow 2.19's default)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "converted")
CONVERTER = os.path.join(os.path.dirname(sys.executable), "tensorflowjs_converter")
SIZE = 32


def probe_input(h, w, c):
    """x[y, x, k] = sin(0.37 * i) with i the row-major index: the same numbers in TypeScript."""
    i = np.arange(h * w * c, dtype=np.float64)
    return np.sin(0.37 * i).astype(np.float32).reshape(1, h, w, c)


def small_cnn(K, seed, preprocessing=None):
    """conv -> BN -> ReLU -> pool -> depthwise -> conv -> ReLU -> GAP -> Dense(5, softmax)."""
    init = lambda s: K.initializers.GlorotUniform(seed=seed * 10 + s)
    x = inp = K.Input((SIZE, SIZE, 3), name="image")
    if preprocessing == "rescaling":
        x = K.layers.Rescaling(1.0 / 255, offset=-0.5, name="rescale")(x)
    if preprocessing == "normalization":
        x = K.layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.052, 0.050, 0.051], name="normalize")(x)
    x = K.layers.Conv2D(8, 3, padding="same", use_bias=False, kernel_initializer=init(1), name="conv1")(x)
    x = K.layers.BatchNormalization(name="bn1")(x)
    x = K.layers.ReLU(name="relu1")(x)
    x = K.layers.MaxPooling2D(2, name="pool1")(x)
    x = K.layers.DepthwiseConv2D(3, padding="same", depthwise_initializer=init(2), name="dw2")(x)
    x = K.layers.Conv2D(16, 1, activation="relu", kernel_initializer=init(3), name="conv2")(x)
    x = K.layers.GlobalAveragePooling2D(name="gap")(x)
    out = K.layers.Dense(5, activation="softmax", kernel_initializer=init(4), name="logits")(x)
    model = K.Model(inp, out, name="small_cnn")
    randomize_bn(model, seed)
    return model


# MobileNetV3-Small (Howard et al. 2019, table 2): kernel, expansion, out, squeeze-excite, hard-swish, stride.
MNV3_SMALL = [(3, 16, 16, True, False, 2), (3, 72, 24, False, False, 2), (3, 88, 24, False, False, 1),
              (5, 96, 40, True, True, 2), (5, 240, 40, True, True, 1), (5, 240, 40, True, True, 1),
              (5, 120, 48, True, True, 1), (5, 144, 48, True, True, 1), (5, 288, 96, True, True, 2),
              (5, 576, 96, True, True, 1), (5, 576, 96, True, True, 1)]


def mobilenet_v3_small_layers(K, alpha, size, classes):
    """MobileNetV3-small with standard layers only, so a tfjs layers model can hold it."""
    L = K.layers
    div8 = lambda v: max(8, int(v + 4) // 8 * 8)

    def hard_sigmoid(x, name):  # relu6(x + 3) / 6
        x = L.Rescaling(1.0, offset=3.0, name=f"{name}_plus3")(x)
        x = L.ReLU(6.0, name=f"{name}_relu6")(x)
        return L.Rescaling(1.0 / 6.0, name=f"{name}_div6")(x)

    def act(x, hs, name):
        return L.Multiply(name=f"{name}_hswish")([x, hard_sigmoid(x, name)]) if hs else L.ReLU(name=f"{name}_relu")(x)

    x = inp = K.Input((size, size, 3), name="image")
    x = L.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = act(x, True, "stem")
    for i, (k, exp, out, se, hs, stride) in enumerate(MNV3_SMALL):
        name, shortcut, cin = f"block{i}", x, x.shape[-1]
        if exp != cin:
            x = L.Conv2D(div8(exp * alpha), 1, use_bias=False, name=f"{name}_expand")(x)
            x = L.BatchNormalization(name=f"{name}_expand_bn")(x)
            x = act(x, hs, f"{name}_expand")
        x = L.DepthwiseConv2D(k, strides=stride, padding="same", use_bias=False, name=f"{name}_depthwise")(x)
        x = L.BatchNormalization(name=f"{name}_depthwise_bn")(x)
        x = act(x, hs, f"{name}_depthwise")
        if se:
            ch = x.shape[-1]
            s = L.GlobalAveragePooling2D(name=f"{name}_se_gap")(x)
            s = L.Reshape((1, 1, ch), name=f"{name}_se_reshape")(s)
            s = L.Conv2D(div8(ch / 4), 1, activation="relu", name=f"{name}_se_reduce")(s)
            s = L.Conv2D(ch, 1, name=f"{name}_se_expand")(s)
            x = L.Multiply(name=f"{name}_se_excite")([x, hard_sigmoid(s, f"{name}_se")])
        x = L.Conv2D(div8(out * alpha), 1, use_bias=False, name=f"{name}_project")(x)
        x = L.BatchNormalization(name=f"{name}_project_bn")(x)
        if stride == 1 and cin == x.shape[-1]:
            x = L.Add(name=f"{name}_add")([shortcut, x])
    x = L.Conv2D(div8(576 * alpha), 1, use_bias=False, name="last_conv")(x)
    x = L.BatchNormalization(name="last_bn")(x)
    x = act(x, True, "last")
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(256, name="head_fc")(x)
    x = act(x, True, "head")
    x = L.Dropout(0.2, name="head_dropout")(x)
    out = L.Dense(classes, activation="softmax", name="predictions")(x)
    return K.Model(inp, out, name="mobilenet_v3_small_layers")


def randomize_bn(model, seed):
    """Non-trivial BatchNorm statistics, so a loader that ignored them would give other numbers."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if "BatchNormalization" in type(layer).__name__:
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape).astype(np.float32), rng.normal(0, 0.1, b.shape).astype(np.float32),
                               rng.normal(0, 0.1, m.shape).astype(np.float32), rng.uniform(0.5, 1.5, v.shape).astype(np.float32)])


def convert(args, out_dir):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    subprocess.run([CONVERTER, *args, out_dir], check=True)


def expected(model, out_dir, note):
    shape = [int(d) for d in model.inputs[0].shape[1:]]
    y = np.asarray(model(probe_input(*shape), training=False))
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"note": note, "inputShape": shape, "probe": "x[i] = sin(0.37 i), i row-major over (H, W, C)",
                   "output": [float(v) for v in y.ravel()]}, f, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tfjs-fixtures-")
    try:
        tf.random.set_seed(0)
        # Keras 2 (tf_keras) -> .h5 -> layers model; its SavedModel -> graph model (the layers twin).
        k2 = small_cnn(tf_keras, seed=1)
        h5 = os.path.join(tmp, "keras2.h5")
        k2.save(h5)
        convert(["--input_format=keras", h5], os.path.join(OUT, "keras2-h5"))
        expected(k2, os.path.join(OUT, "keras2-h5"), "tf_keras model(x) before saving")
        sm = os.path.join(tmp, "saved_model")
        tf.saved_model.save(k2, sm)
        convert(["--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
                 "--signature_name=serving_default", "--saved_model_tags=serve", sm], os.path.join(OUT, "saved-model"))
        expected(k2, os.path.join(OUT, "saved-model"), "the same tf_keras model as keras2-h5 (its layers twin)")

        # Keras 3 -> .keras -> layers model (the converter translates config.json, no Keras import).
        k3 = small_cnn(keras, seed=1)
        k3dir = os.path.join(tmp, "k3")
        os.makedirs(k3dir)
        k3_file = os.path.join(k3dir, "model.keras")
        k3.save(k3_file)
        convert(["--input_format=keras_keras", "--output_format=tfjs_layers_model", k3_file], os.path.join(OUT, "keras3-keras"))
        expected(k3, os.path.join(OUT, "keras3-keras"), "Keras 3 model(x) before saving")

        for kind in ("rescaling", "normalization"):
            pre = small_cnn(tf_keras, seed=2, preprocessing=kind)
            pre_h5 = os.path.join(tmp, f"{kind}.h5")
            pre.save(pre_h5)
            convert(["--input_format=keras", pre_h5], os.path.join(OUT, kind))
            expected(pre, os.path.join(OUT, kind), "tf_keras model(x) before saving (the probe is not in 0..255; the layers scale it anyway)")

        mnv3 = tf_keras.applications.MobileNetV3Small(input_shape=(64, 64, 3), alpha=0.5, weights=None, classes=10,
                                                      include_preprocessing=True, classifier_activation="softmax")
        randomize_bn(mnv3, 3)
        mnv3_h5 = os.path.join(tmp, "mnv3.h5")
        mnv3.save(mnv3_h5)
        convert(["--input_format=keras", mnv3_h5], os.path.join(OUT, "mobilenetv3-small"))
        expected(mnv3, os.path.join(OUT, "mobilenetv3-small"), "tf_keras model(x) before saving")

        mnl = mobilenet_v3_small_layers(tf_keras, alpha=0.5, size=64, classes=10)
        randomize_bn(mnl, 4)
        mnl_h5 = os.path.join(tmp, "mnl.h5")
        mnl.save(mnl_h5)
        convert(["--input_format=keras", mnl_h5], os.path.join(OUT, "mobilenetv3-small-layers"))
        expected(mnl, os.path.join(OUT, "mobilenetv3-small-layers"), "tf_keras model(x) before saving")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_readme()


# What each folder is, and what tfjs 4.22 does with it (test/model/converted.test.ts checks each).
FOLDERS = {
    "keras2-h5": "tf_keras CNN (conv, BN, ReLU, max-pool, depthwise, GAP, Dense) .h5, `--input_format=keras` | loads; output = TensorFlow's; engine = finite differences",
    "rescaling": "the same CNN after Rescaling(1/255, offset -0.5), .h5 | loads; output = TensorFlow's; engine = finite differences",
    "normalization": "the same CNN after Normalization(mean, variance), .h5 | refused: MODEL_LOAD, tfjs has no `Normalization` class",
    "mobilenetv3-small": "tf_keras.applications.MobileNetV3Small, 64x64, alpha 0.5, 10 classes, .h5 | refused: MODEL_LOAD, its `x + 3` is a `TFOpLambda` layer",
    "mobilenetv3-small-layers": "the MobileNetV3-small layout in standard layers only, 64x64, alpha 0.5, .h5 | loads; output = TensorFlow's; engine = finite differences",
    "keras3-keras": "Keras 3 CNN (same layout) .keras, `--input_format=keras_keras` | refused: MODEL_LOAD, Keras 3 JSON (InputLayer `batch_shape`)",
    "saved-model": "keras2-h5's model as a SavedModel, `--output_format=tfjs_graph_model` | `tf.loadGraphModel` loads it; = its layers twin keras2-h5; loadModel: GRAPH_MODEL",
}


def write_readme():
    import importlib.metadata as md

    versions = {p: md.version(p) for p in ("tensorflow", "tf_keras", "keras", "tensorflowjs", "tensorflow-decision-forests", "h5py", "numpy")}
    rows, total = [], 0
    for folder in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            size = os.path.getsize(os.path.join(d, name))
            total += size
            sha = hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest()[:12]
            rows.append(f"| `{folder}/{name}` | {size:,} | `{sha}` |")
    lines = [
        "# Real tensorflowjs_converter output",
        "",
        "Made by `bash scripts/make-converter-fixtures.sh` (by hand, not in CI): models with random weights built in",
        "TensorFlow, converted by the real `tensorflowjs_converter`, committed unchanged. `expected.json` in each",
        "folder is TensorFlow's own output on the probe input x[i] = sin(0.37 i) (row-major over H, W, C).",
        "Tests: `test/model/converted.test.ts`; the models: `scripts/python/make_converter_fixtures.py`.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f", Python {sys.version.split()[0]}.",
        "",
        "| folder | what | tfjs 4.22 |",
        "|---|---|---|",
        *[f"| `{k}` | {v} |" for k, v in FOLDERS.items()],
        "",
        "| file | bytes | sha256 |",
        "|---|--:|---|",
        *rows,
        f"| **all** | **{total:,}** | |",
        "",
    ]
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
