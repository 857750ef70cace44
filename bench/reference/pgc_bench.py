"""PyTorch reference for bench/bench.ts: the real pytorch-grad-cam (grad-cam 1.5.7) on CPU torch.

A minimal stand-in written for i14-speed so the benchmark can be developed; the i17b-python
helper owns the full script at this path (same protocol) and the lead keeps that one on merge.

Protocol (one JSON object per line):
  stdout first  {"ready": true, "threads": n, "torch": "...", "grad_cam": "..."}
  request       {"model": "mobilenet_v2" | "resnet50", "batch": 1 | 8, "threads": n,
                 "row": "forward" | "gradcam_last" | "gradcam_inner" | "guided",
                 "repeats": 5, "warmup": 1}
  answer        {"ms": median, "samples": [...]} or {"error": "..."}
  {"quit": true} ends the process.
The thread count is fixed per process (--threads): OpenBLAS/OpenMP/MKL size their pools when
torch loads, so the environment is set before the import, and torch.set_num_threads as well.
"""
import argparse
import json
import os
import statistics
import sys
import time

LAYERS = {"mobilenet_v2": {"last": "features.18", "inner": "features.6"},
          "resnet50": {"last": "layer4.2", "inner": "layer2.3"}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch
    import torchvision
    import pytorch_grad_cam as pgc
    from importlib.metadata import version
    torch.set_num_threads(args.threads)
    models, inputs = {}, {}

    def model(name):
        if name not in models:
            models.clear()
            torch.manual_seed(0)
            models[name] = getattr(torchvision.models, name)(weights=None).eval()
        return models[name]

    def image(batch):
        if batch not in inputs:
            inputs[batch] = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        return inputs[batch]

    def run(req):
        name, row, batch = req.get("model"), req.get("row"), req.get("batch", 1)
        if name not in LAYERS:
            return {"error": f"unknown model {name!r}"}
        if req.get("threads", args.threads) != args.threads:
            return {"error": f"this process runs {args.threads} thread(s)"}
        m, x = model(name), image(batch)
        release = lambda: None
        if row == "forward":
            def f():
                with torch.no_grad():
                    m(x)
        elif row == "guided":
            g = pgc.GuidedBackpropReLUModel(m, device="cpu")
            f = lambda: g(x.clone())
        elif row in ("gradcam_last", "gradcam_inner"):
            cam = pgc.GradCAM(model=m, target_layers=[m.get_submodule(LAYERS[name][row.split("_")[1]])])
            f = lambda: cam(input_tensor=x, targets=None)
            release = cam.activations_and_grads.release
        else:
            return {"error": f"unknown row {row!r}"}
        try:
            for _ in range(int(req.get("warmup", 1))):
                f()
            samples = []
            for _ in range(int(req.get("repeats", 5))):
                t0 = time.perf_counter()
                f()
                samples.append((time.perf_counter() - t0) * 1000)
        finally:
            release()
        return {"ms": statistics.median(samples), "samples": samples}

    print(json.dumps({"ready": True, "threads": args.threads, "torch": torch.__version__, "grad_cam": version("grad-cam")}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if req.get("quit"):
                break
            out = run(req)
        except Exception as e:  # one failing row must not end the run
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
