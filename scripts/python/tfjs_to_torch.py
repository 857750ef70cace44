"""Export a TensorFlow.js layers model (model.json + weight shards) to an equivalent torch nn.Module.

For the peer-correctness test: the built-in digits models, rebuilt in torch with the very same
weights, so pytorch-grad-cam and tslab-cam explain one function. Supported: a chain of
InputLayer, Conv2D, BatchNormalization, ReLU, MaxPooling2D, GlobalAveragePooling2D, Flatten,
Dropout and Dense (what src/data/architectures.ts builds); anything else raises, naming the layer.

Where the two frameworks differ, and what this does about it:
  - layout: tfjs is NHWC, torch NCHW. Conv kernels (kh, kw, in, out) become (out, in, kh, kw).
  - Flatten: tfjs flattens (h, w, c), torch (c, h, w), so the Dense after a Flatten gets its input
    rows permuted; the torch model is then an ordinary NCHW model.
  - BatchNormalization: Keras's epsilon (1e-3 here) is copied; torch's default would be 1e-5.
  - padding 'same' with stride 1 and an odd kernel is symmetric, (k-1)/2 on each side; other
    'same' cases (asymmetric in TensorFlow) raise rather than silently shift the map.
  - the last Dense's softmax/sigmoid is left out by default (logits=True): tslab-cam explains the
    score before the activation (the article's S_c), and pytorch-grad-cam explains whatever the
    model outputs, so both must see the same S_c.
Module names are the tfjs layer names, so `model.get_submodule("relu4")` is the layer tslab-cam
calls "relu4".

Usage: python tfjs_to_torch.py MODEL_DIR OUT.pt   (saves the whole module with torch.save)
"""

import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

DTYPES = {"float32": np.float32, "int32": np.int32}


def read_weights(model_dir, manifest):
    """Every weight of the manifest as a numpy array, by its tfjs name (e.g. "conv1/kernel")."""
    out = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            if "quantization" in spec:
                raise ValueError(f"{spec['name']}: quantized weights are not supported")
            dtype = np.dtype(DTYPES[spec["dtype"]])
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            arr = np.frombuffer(buf, dtype=dtype, count=count, offset=offset).reshape(spec["shape"])
            out[spec["name"]] = arr.copy()
            offset += count * dtype.itemsize
    return out


class GlobalAveragePool(nn.Module):
    """Keras GlobalAveragePooling2D: the spatial mean, F_k = (1/Z) sum_xy f_k(x, y)."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def _same_padding(cfg, layer):
    k, s = _pair(cfg["kernel_size"]), _pair(cfg.get("strides", 1))
    if cfg.get("padding", "valid") == "valid":
        return 0
    if s != (1, 1) or k[0] % 2 == 0 or k[1] % 2 == 0:
        raise ValueError(f"{layer}: padding 'same' with stride {s} / kernel {k} is asymmetric in TensorFlow; not supported")
    return (k[0] // 2, k[1] // 2)


def _activation(name, layer, is_last, logits):
    if name in (None, "linear"):
        return None
    if name == "relu":
        return nn.ReLU()
    if is_last and logits and name in ("softmax", "sigmoid"):
        return None
    if name == "softmax":
        return nn.Softmax(dim=-1)
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"{layer}: activation {name!r} is not supported")


def build(model_dir, logits=True):
    """The torch nn.Sequential equivalent of MODEL_DIR/model.json, in eval mode."""
    with open(os.path.join(model_dir, "model.json")) as f:
        mj = json.load(f)
    topo = mj["modelTopology"]
    topo = topo.get("model_config", topo)
    layers = topo["config"]["layers"]
    weights = read_weights(model_dir, mj["weightsManifest"])
    modules = OrderedDict()
    shape = None  # (h, w, c) or (n,) of the current output, channels last as in tfjs
    prev = None
    for i, layer in enumerate(layers):
        cls, cfg, name = layer["class_name"], layer["config"], layer["name"]
        inbound = layer.get("inbound_nodes", [])
        if prev is not None and (len(inbound) != 1 or len(inbound[0]) != 1 or inbound[0][0][0] != prev):
            raise ValueError(f"{name}: only a chain of layers is supported (inbound {inbound})")
        prev = name
        is_last = i == len(layers) - 1
        w = lambda suffix: torch.from_numpy(weights[f"{name}/{suffix}"])
        if cls == "InputLayer":
            shape = tuple(cfg["batch_input_shape"][1:])
            continue
        if cls == "Conv2D":
            if _pair(cfg.get("dilation_rate", 1)) != (1, 1):
                raise ValueError(f"{name}: dilation is not supported")
            kh, kw = _pair(cfg["kernel_size"])
            stride = _pair(cfg.get("strides", 1))
            pad = _same_padding(cfg, name)
            conv = nn.Conv2d(shape[2], cfg["filters"], (kh, kw), stride=stride, padding=pad, bias=cfg["use_bias"])
            conv.weight.data = w("kernel").permute(3, 2, 0, 1).contiguous()
            if cfg["use_bias"]:
                conv.bias.data = w("bias").clone()
            modules[name] = conv
            ph, pw = (pad, pad) if isinstance(pad, int) else pad
            shape = ((shape[0] + 2 * ph - kh) // stride[0] + 1, (shape[1] + 2 * pw - kw) // stride[1] + 1, cfg["filters"])
            act = _activation(cfg.get("activation"), name, is_last, logits)
            if act is not None:
                modules[f"{name}_activation"] = act
        elif cls == "BatchNormalization":
            if not cfg.get("center", True) or not cfg.get("scale", True):
                raise ValueError(f"{name}: BatchNormalization without center/scale is not supported")
            n = shape[-1]
            bn = nn.BatchNorm2d(n, eps=cfg["epsilon"]) if len(shape) == 3 else nn.BatchNorm1d(n, eps=cfg["epsilon"])
            bn.weight.data = w("gamma").clone()
            bn.bias.data = w("beta").clone()
            bn.running_mean.data = w("moving_mean").clone()
            bn.running_var.data = w("moving_variance").clone()
            modules[name] = bn
        elif cls == "ReLU":
            if cfg.get("max_value") is not None or cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
                raise ValueError(f"{name}: only a plain ReLU is supported")
            modules[name] = nn.ReLU()
        elif cls == "MaxPooling2D":
            if cfg.get("padding", "valid") != "valid":
                raise ValueError(f"{name}: only 'valid' max-pooling is supported")
            k, s = _pair(cfg["pool_size"]), _pair(cfg.get("strides") or cfg["pool_size"])
            modules[name] = nn.MaxPool2d(k, s)
            shape = ((shape[0] - k[0]) // s[0] + 1, (shape[1] - k[1]) // s[1] + 1, shape[2])
        elif cls == "GlobalAveragePooling2D":
            modules[name] = GlobalAveragePool()
            shape = (shape[2],)
        elif cls == "Flatten":
            modules[name] = nn.Flatten()
            flattened_from = shape
            shape = (int(np.prod(shape)),)
        elif cls == "Dropout":
            modules[name] = nn.Dropout(cfg["rate"])
        elif cls == "Dense":
            kernel = weights[f"{name}/kernel"]  # (in, out), rows in tfjs's input order
            if _after_flatten(modules):
                h, wd, c = flattened_from
                # tfjs row (y, x, k) holds what torch's Flatten puts at (k, y, x).
                kernel = kernel.reshape(h, wd, c, -1).transpose(2, 0, 1, 3).reshape(h * wd * c, -1)
            dense = nn.Linear(kernel.shape[0], kernel.shape[1], bias=cfg["use_bias"])
            dense.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))
            if cfg["use_bias"]:
                dense.bias.data = w("bias").clone()
            modules[name] = dense
            shape = (kernel.shape[1],)
            act = _activation(cfg.get("activation"), name, is_last, logits)
            if act is not None:
                modules[f"{name}_activation"] = act
        else:
            raise ValueError(f"{name}: layer class {cls} is not supported")
    return nn.Sequential(modules).eval()


def _after_flatten(modules):
    """True when the last weighted module before this Dense is a Flatten (Dropout may sit between)."""
    for m in reversed(list(modules.values())):
        if isinstance(m, nn.Flatten):
            return True
        if not isinstance(m, nn.Dropout):
            return False
    return False


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    torch.save(build(sys.argv[1]), sys.argv[2])
