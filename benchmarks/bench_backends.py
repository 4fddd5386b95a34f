"""The network alone through each backend predict could use: TensorFlow, onnxruntime, OpenVINO (float32, bf16).

    python -m benchmarks.bench_backends [--model=tfnormals/assets/model] [--batch=4] [--side=512]

The SavedModel is exported to ONNX in a temporary folder (tfnormals.tools.onnx_export), then in one process each
backend runs the same random batch (`--batch` tiles of `--side`², as predict's tiles) once as a warm-up and
`--repeats` more times; the figure is the median. Every backend's passes are compared with TensorFlow's (largest
absolute difference). OpenVINO reads the ONNX file; its bf16 runs use the CPU's AVX512-BF16 through
INFERENCE_PRECISION_HINT. The rule for predict: a backend replaces onnxruntime for exported models only when it is
at least MIN_SPEEDUP× TensorFlow's speed with every pass within TOLERANCE of TensorFlow's.
"""

import json
import os
import tempfile

from absl import flags

from benchmarks import common

MODULE = "benchmarks.bench_backends"
MIN_SPEEDUP = 1.3
TOLERANCE = 1e-3


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("model", common.DEFAULT_MODEL, "SavedModel to measure.")
    flags.DEFINE_integer("batch", 4, "Tiles per call.")
    flags.DEFINE_integer("side", 512, "Tile side.")
    flags.DEFINE_integer("repeats", 3, "Timed runs after the warm-up.")
    common.define_output_flags(child=True)


def _backends(onnx_path):
    """{name: batch → {pass: array}} for every backend installed here."""
    import numpy as np
    runners = {}
    import onnxruntime
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    runners["onnxruntime"] = lambda x: dict(zip(names, session.run(names, {session.get_inputs()[0].name: x})))
    try:
        import openvino
    except ImportError:
        return runners
    core = openvino.Core()
    model = core.read_model(onnx_path)
    for hint in ("f32", "bf16"):
        compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"})
        outputs = [o.get_any_name() for o in compiled.outputs]
        runners[f"openvino {hint}"] = (lambda c, o: lambda x: {n: np.asarray(v) for n, v in zip(o, c(x).values())})(
            compiled, outputs)
    return runners


def _child(cfg):
    import numpy as np

    from tfnormals.tools import onnx_export
    from tfnormals.tools.model_io import NormalsModel
    model = NormalsModel(cfg["model"])
    batch = np.random.default_rng(0).random((cfg["batch"], cfg["side"], cfg["side"], 3), dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="bench_backends-") as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        onnx_export.savedmodel_to_onnx(cfg["model"], onnx_path)
        runners = {"tensorflow": model.predict_passes, **_backends(onnx_path)}
        reference = model.predict_passes(batch)
        rows = []
        for name, run in runners.items():
            out = run(batch)
            difference = max(float(np.abs(out[p] - reference[p]).max()) for p in reference)
            rows.append({"backend": name, "seconds": common.timed(lambda: run(batch), repeats=cfg["repeats"]),
                         "max_difference": difference})
    common.emit({"rows": rows})


def main(args):
    cfg = {"model": args.model, "batch": args.batch, "side": args.side, "repeats": args.repeats}
    rows = common.run_child(MODULE, [f"--child={json.dumps(cfg)}"])["rows"]
    base = next(r for r in rows if r["backend"] == "tensorflow")
    for r in rows:
        r["median_s"] = common.median(r["seconds"])
        r["speedup"] = common.median(base["seconds"]) / r["median_s"]
    table = common.markdown_table(["backend", "median s", "speed vs TensorFlow", "largest |difference| from TF"],
                                  [[r["backend"], r["median_s"], r["speedup"], r["max_difference"]] for r in rows])
    text = (f"### Backends ({args.batch} × {args.side}² tiles of `{common.display_path(args.model)}`, one process, "
            f"median of {args.repeats} after a warm-up)\n\n" + table)
    targets = [common.target(f"{r['backend']}: ≥ {MIN_SPEEDUP:g}× TensorFlow within {TOLERANCE:g}",
                             f"{r['speedup']:.2f}×, {r['max_difference']:.2g}",
                             r["speedup"] >= MIN_SPEEDUP and r["max_difference"] <= TOLERANCE,
                             "not predict's backend unless both hold")
               for r in rows if r["backend"].startswith("openvino")]
    return common.finish(MODULE, {"name": "backends", "markdown": text, "rows": rows, "targets": targets},
                         args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE, child=_child)
