"""The benchmark's PyTorch reference: the real pytorch-grad-cam (grad-cam 1.5.7) on Debian's CPU torch.

A persistent process: one JSON request per stdin line, one JSON answer per stdout line, so the
TypeScript benchmark (bench/reference.ts) pays torch's ~3 s import once, not once per row.

  request  {"model": "mobilenet_v2" | "resnet50" | "digits_gap", "batch": 1 | 8, "threads": N,
            "row": "forward" | "gradcam_last" | "gradcam_inner" | "guided",
            "repeats": 5, "warmup": 1, "maxRepeats": 9, "budgetMs": 3000}
                                                     (all but model, batch, row optional; more calls,
                                                      up to maxRepeats, while under budgetMs)
  answer   {"ms": median, "samples": [ms, ...], "layer": "<module name>" | null, "note": "..."}
           or {"error": "..."}
  {"quit": true} ends the process.

The thread count is fixed per process (`--threads N`, default 1): OpenBLAS, OpenMP and MKL read
their pool sizes once, when torch loads, and Debian's torch hands small 1x1 convolutions to
OpenBLAS, whose own pool ignores torch.set_num_threads (measured: ~2 cores busy at "1 thread").
A request naming another thread count is answered with an error; start one process per count.

What each row times (torchvision models with their default random initialisation, seed 0,
eval mode, input N(0,1) of shape batch x 3 x 224 x 224, seed 1):
  forward        model(x) under torch.no_grad()
  gradcam_last   GradCAM(model, [last block])(x), top-1 class per image; includes pgc's own
                 min-max scaling and cv2 resize to 224x224 (what a user of pgc gets)
  gradcam_inner  the same at an inner block
  guided         GuidedBackpropReLUModel(model)(x): pgc backpropagates the score of image 0 only
                 (its batch limit), and it guides nn.ReLU modules only, so on MobileNetV2
                 (nn.ReLU6 everywhere) it computes the plain input gradient.

Target layers (torchvision module name <-> the Keras/tfjs layer with the same output):
  mobilenet_v2  last  features.18  (1x1 conv 320->1280 + BN + ReLU6, 7x7x1280)  <-> out_relu
                inner features.6   (3rd inverted residual of the 32-channel stage, 28x28x32,
                                    after its residual add)                     <-> block_5_add
  resnet50      last  layer4.2     (last bottleneck, 7x7x2048, after add+ReLU)  <-> conv5_block3_out
                inner layer2.3     (last bottleneck of stage 2, 28x28x512)      <-> conv3_block4_out
  digits_gap    the built-in model (models/digits-gap, 64x64) rebuilt by scripts/python/tfjs_to_torch.py
                with its weights; module names are the layer names: last relu4, inner relu2
"""

import argparse
import copy
import json
import os
import statistics
import sys
import time


def pin_threads(n):
    """Set every pool size before torch (and numpy's BLAS) load; they are read once, at load."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


LAYERS = {
    "mobilenet_v2": {"last": "features.18", "inner": "features.6"},
    "resnet50": {"last": "layer4.2", "inner": "layer2.3"},
    "digits_gap": {"last": "relu4", "inner": "relu2"},
}
ROWS = ("forward", "gradcam_last", "gradcam_inner", "guided")
BATCHES = (1, 8)
SIZES = {"mobilenet_v2": 224, "resnet50": 224, "digits_gap": 64}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Bench:
    def __init__(self, threads):
        self.threads = threads
        import torch  # after pin_threads: the pools are sized at import
        import torchvision
        import pytorch_grad_cam

        torch.set_num_threads(threads)
        self.torch = torch
        self.torchvision = torchvision
        self.pgc = pytorch_grad_cam
        self.models = {}
        self.inputs = {}

    def model(self, name):
        if name not in self.models:
            if name == "digits_gap":
                # The built-in model with its trained weights, rebuilt in torch as the peer test does.
                sys.path.insert(0, os.path.join(ROOT, "scripts", "python"))
                import tfjs_to_torch
                self.models[name] = tfjs_to_torch.build(os.path.join(ROOT, "models", "digits-gap"))
            else:
                self.torch.manual_seed(0)
                build = getattr(self.torchvision.models, name)
                self.models[name] = build(weights=None).eval()
        return self.models[name]

    def input(self, batch, size):
        if (batch, size) not in self.inputs:
            g = self.torch.Generator().manual_seed(1)
            self.inputs[(batch, size)] = self.torch.randn(batch, 3, size, size, generator=g)
        return self.inputs[(batch, size)]

    def run(self, req):
        name, batch, row = req.get("model"), req.get("batch"), req.get("row")
        if name not in LAYERS:
            return {"error": f"model must be one of {sorted(LAYERS)}, got {name!r}"}
        if batch not in BATCHES:
            return {"error": f"batch must be one of {list(BATCHES)}, got {batch!r}"}
        if row not in ROWS:
            return {"error": f"row must be one of {list(ROWS)}, got {row!r}"}
        threads = req.get("threads", self.threads)
        if threads != self.threads:
            return {"error": f"this process runs {self.threads} thread(s); start another with --threads {threads}"}
        repeats = int(req.get("repeats", 5))
        warmup = int(req.get("warmup", 1))
        model = self.model(name)
        x = self.input(batch, SIZES[name])
        call, layer, note, release = self.prepare(name, model, row, x)
        try:
            for _ in range(warmup):
                call()
            samples = []
            # At least `repeats` calls; then more, up to maxRepeats, while under budgetMs (as tfjs-runner.ts).
            most = max(repeats, int(req.get("maxRepeats", repeats)))
            budget = float(req.get("budgetMs", 0))
            started = time.perf_counter()
            while len(samples) < repeats or (len(samples) < most and (time.perf_counter() - started) * 1000 < budget):
                t0 = time.perf_counter()
                call()
                samples.append((time.perf_counter() - t0) * 1000)
        finally:
            release()
        return {"ms": statistics.median(samples), "samples": samples, "layer": layer, "note": note}

    def prepare(self, name, model, row, x):
        torch = self.torch
        if row == "forward":
            def forward():
                with torch.no_grad():
                    model(x)
            return forward, None, "model(x) under torch.no_grad()", lambda: None
        if row == "guided":
            # On a copy: pgc puts back one shared, not-in-place nn.ReLU for every ReLU it swapped,
            # which would change the later rows' model (and make a hook on one ReLU fire at all).
            guided = self.pgc.GuidedBackpropReLUModel(copy.deepcopy(model), device="cpu")
            has_relu = any(isinstance(m, torch.nn.ReLU) for m in model.modules())
            note = "pgc GuidedBackpropReLUModel, image 0's top-1 score" + (
                "" if has_relu else "; no nn.ReLU in this model (ReLU6), so pgc applies no guided rule")
            return (lambda: guided(x.clone())), None, note, lambda: None
        layer = LAYERS[name][row.split("_", 1)[1]]
        cam = self.pgc.GradCAM(model=model, target_layers=[model.get_submodule(layer)])
        return (lambda: cam(input_tensor=x, targets=None)), layer, "pgc GradCAM, top-1 class per image", cam.activations_and_grads.release


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    bench = Bench(args.threads)
    print(json.dumps({"ready": True, "threads": args.threads, "torch": bench.torch.__version__,
                      "grad_cam": pgc_version()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError as e:
            print(json.dumps({"error": f"not JSON: {e}"}), flush=True)
            continue
        if req.get("quit"):
            break
        try:
            answer = bench.run(req)
        except Exception as e:  # one bad row must not end the benchmark
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


def pgc_version():
    from importlib.metadata import version
    return version("grad-cam")


if __name__ == "__main__":
    main()
