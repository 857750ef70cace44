"""pytorch-grad-cam's answers for the peer-correctness test (test/explain/peer-pgc.test.ts).

Reads one JSON document on stdin, writes one on stdout:
  in   {"models": {"digits-gap": "models/digits-gap", ...},        tfjs layers model folders
        "inputs": {"name": {"shape": [H, W, C], "data": [...]}},  NHWC, as tslab-cam preprocessed it
        "requests": [{"id": "...", "model": "digits-gap", "input": "name",
                      "pgc": "GradCAM" | "GradCAMPlusPlus" | ... | "GuidedBackprop",
                      "layer": "relu4", "classIndex": 3}]}
  out  {"versions": {...}, "results": [{"id": "...", "map": [h*w], "signed": [h*w], "shape": [h, w]}
                                        | {"id": "...", "gradient": [H*W*C], "shape": [H, W, C]}
                                        | {"id": "...", "error": "..."}]}

The models are rebuilt in torch from the same model.json and weight files (tfjs_to_torch.py), with
the last Dense's softmax/sigmoid left out, so both libraries explain the same pre-activation S_c.

Which map is compared: pytorch-grad-cam's map at the layer's resolution before its own scaling,
i.e. max(get_cam_image(...), 0), exactly what its compute_cam_per_layer feeds to scale_cam_image
(which then min-max scales, resizes with cv2 and min-max scales again). tslab-cam's `raw` is the
same quantity, so no normalisation convention enters the comparison. "signed" is the map before
that ReLU, for methods whose sign is a convention (Eigen-CAM's principal component).
"""

import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfjs_to_torch  # noqa: E402


def cam_result(pgc, model, x, req):
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = model.get_submodule(req["layer"])
    cam = getattr(pgc, req["pgc"])(model=model, target_layers=[layer])
    targets = [ClassifierOutputTarget(req["classIndex"])]
    try:
        cam(input_tensor=x, targets=targets)  # forward + backward through pgc's own hooks
        acts = cam.activations_and_grads.activations[0].numpy()
        grads = cam.activations_and_grads.gradients[0].numpy() if cam.activations_and_grads.gradients else None
        signed = cam.get_cam_image(x, layer, targets, acts, grads, False)[0]
    finally:
        cam.activations_and_grads.release()
    raw = np.maximum(signed, 0)
    return {"map": raw.astype(np.float64).ravel().tolist(), "signed": signed.astype(np.float64).ravel().tolist(),
            "shape": list(raw.shape)}


def guided_result(pgc, model, x, req):
    # On a copy: GuidedBackpropReLUModel puts back ONE shared nn.ReLU instance for every ReLU it
    # swapped, so a later GradCAM hook on "relu4" would fire at every ReLU of the original.
    g = pgc.GuidedBackpropReLUModel(copy.deepcopy(model), device="cpu")(x.clone(), target_category=req["classIndex"])
    return {"gradient": g.astype(np.float64).ravel().tolist(), "shape": list(g.shape)}


def main():
    torch.set_num_threads(1)
    import pytorch_grad_cam as pgc
    from importlib.metadata import version

    doc = json.load(sys.stdin)
    models = {name: tfjs_to_torch.build(path) for name, path in doc["models"].items()}
    inputs = {}
    for name, spec in doc["inputs"].items():
        nhwc = np.asarray(spec["data"], dtype=np.float32).reshape([1] + spec["shape"])
        inputs[name] = torch.from_numpy(nhwc.transpose(0, 3, 1, 2).copy())
    results = []
    for req in doc["requests"]:
        try:
            model, x = models[req["model"]], inputs[req["input"]]
            run = guided_result if req["pgc"] == "GuidedBackprop" else cam_result
            results.append({"id": req["id"], **run(pgc, model, x, req)})
        except Exception as e:  # report per request: one unsupported method must not hide the rest
            results.append({"id": req["id"], "error": f"{type(e).__name__}: {e}"})
    versions = {"grad-cam": version("grad-cam"), "torch": torch.__version__, "numpy": np.__version__}
    json.dump({"versions": versions, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
