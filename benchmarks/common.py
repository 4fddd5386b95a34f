"""Helpers shared by the benchmark scripts: timing, markdown tables, child processes, machine info.

Nothing here imports TensorFlow or Mitsuba at import time (train_config and fit_step_times
import TensorFlow when called): Dr.Jit segfaults when it is loaded after TensorFlow in one
process, so every script keeps the heavy imports inside the process (often a child started
with `run_child`) that needs them.

Every script is a command like tfnormals' own (`define_flags()`, then `run(main, MODULE)`: absl
flags through tfnormals.core.cli, so --help, one-line errors and stdout for results alike).

Child protocol: a script run with `--child=JSON` does one measurement and prints one line
`@@BENCH_JSON@@ {...}` (see `emit`); `run_child` parses it and adds the child's wall time
and peak RSS, taken from the kernel (os.wait4) for that one process, so every configuration's
memory is measured in a fresh process.
"""

import collections
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from absl import flags

from tfnormals.core import cli, layout, resources

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "@@BENCH_JSON@@"
# The shipped model's configuration and the records it was trained from (its held-out split is the quality test).
SHIPPED_FLAGS = os.path.join(REPO, "configs", "shipped.flags")
SHIPPED_RECORDS = os.path.normpath(os.path.join(REPO, "..", "data", "records_layout_b"))
DEFAULT_MODEL = resources.DEFAULT_MODEL_DIR


class ChildError(RuntimeError):
    """A benchmark child process failed; the message holds its command and the tail of its stderr."""


def median(values):
    values = list(values)
    return statistics.median(values) if values else float("nan")


def timed(fn, repeats=3, warmup=1):
    """Call fn() `warmup` times untimed, then `repeats` times; returns the list of seconds."""
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def cpu_seconds():
    """User + system CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb():
    """This process's own peak resident set size in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def fmt(value, digits=2):
    """Number formatting for tables: fixed digits, 3 significant figures for big/small values."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if value != value:  # NaN
        return "–"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 10 ** -digits):
        return f"{value:.3g}"
    return f"{value:.{digits}f}"


def markdown_table(headers, rows):
    """A GitHub markdown table; cells go through fmt()."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(c) for c in row) + " |")
    return "\n".join(lines)


def emit(result):
    """Print a child's result for run_child (one marked JSON line on stdout)."""
    cli.emit(f"{MARKER} {json.dumps(dict(result, child_peak_rss_mb=peak_rss_mb()))}")


def child_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env


def run_child(module, args=(), env=None, timeout=3600, cwd=REPO, show_stderr=False):
    """Run `python -m module args...` to completion in a fresh process.

    Returns the child's JSON result (the last `emit` line; {} if none) plus 'wall_s' and
    'peak_rss_mb' (the kernel's peak RSS of that process and the children it waited for).
    Raises ChildError on a non-zero exit or a timeout. show_stderr also echoes the child's
    stderr (progress lines) as it comes.
    """
    cmd = [sys.executable, "-m", module, *[str(a) for a in args]]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, cwd=cwd, env=child_env(env))
        tail = collections.deque(maxlen=40)

        def drain():
            for raw in proc.stderr:
                line = raw.decode(errors="replace")
                tail.append(line.rstrip("\n"))
                if show_stderr:
                    sys.stderr.write(line)
                    sys.stderr.flush()
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # per-process rusage, unlike RUSAGE_CHILDREN
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join()
        proc.stderr.close()
        wall = time.perf_counter() - start
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    result = _result(cmd, proc.returncode, stdout, list(tail))
    result.update(wall_s=wall, peak_rss_mb=usage.ru_maxrss / 1024.0)
    return result


def _result(cmd, returncode, stdout, stderr_lines):
    """The child's last emitted JSON ({} if none); ChildError with its output's tail if it failed."""
    if returncode != 0:
        lines = stderr_lines or stdout.strip().splitlines()
        raise ChildError(f"{' '.join(cmd)} exited with {returncode}:\n" + "\n".join(lines[-25:]))
    result = {}
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER):])
    return result


def start_child(module, args=(), env=None, cwd=REPO):
    """Start a child without waiting (for concurrent runs); finish it with finish_child."""
    cmd = [sys.executable, "-m", module, *[str(a) for a in args]]
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=child_env(env))
    return proc, cmd, out, err


def finish_child(handle):
    """Wait for a child from start_child; same result as run_child (without wall_s)."""
    proc, cmd, out, err = handle
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    out.close()
    err.close()
    result = _result(cmd, proc.returncode, stdout, stderr.strip().splitlines())
    result.update(peak_rss_mb=usage.ru_maxrss / 1024.0)
    return result


def train_config(flagfile=SHIPPED_FLAGS, **overrides):
    """The TrainConfig of a flagfile (parsed as the train command parses it) plus overrides; imports TF."""
    from tfnormals.training import config
    return config.from_flagfile(flagfile, **overrides)


def fit_step_times(model, dataset, warmup_steps, steps):
    """Run model.fit for warmup_steps + steps on `dataset`; returns every step's seconds.

    A step's time is the interval between consecutive on_train_batch_end calls (the first
    includes tracing); TF runs functions synchronously on CPU, so the intervals are real.
    """
    import keras

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    timer = StepTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup_steps + steps, callbacks=[timer], verbose=0)
    return [b - a for a, b in zip(timer.ends, timer.ends[1:])]


def has_records(records_dir, split="train"):
    import glob
    return bool(records_dir) and bool(glob.glob(os.path.join(records_dir, layout.shard_glob(split))))


def small_records(num_samples=48, resolution=192, spp=8, seed=11):
    """Render a small set and convert it to records in a temp folder (each step its own process).

    Returns the records folder; its parent (holding the renders too) is for the caller to delete.
    """
    root = tempfile.mkdtemp(prefix="bench-records-")
    renders, records = os.path.join(root, "renders"), os.path.join(root, "records")
    run_child("data_tools.render", [f"--output_dir={renders}", f"--num_samples={num_samples}",
                                    f"--resolution={resolution}", f"--spp={spp}", f"--seed={seed}"])
    # Enough test/val samples for a small set: 70/15/15.
    run_child("data_tools.make_records", [f"--input_dir={renders}", f"--output_dir={records}", "--num_shards=2",
                                          "--split_fractions=0.7,0.15,0.15", "--workers=1"])
    return records


def machine_info():
    """Date, usable cores (as `nproc` counts them) and the CPU model from /proc/cpuinfo."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "?"
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "nproc": len(os.sched_getaffinity(0)), "cpu": model, "loadavg": load,
            "python": platform.python_version()}


def display_path(path):
    """A path relative to the repository when it is inside the repository's parent, else absolute."""
    rel = os.path.relpath(os.path.abspath(path), REPO)
    return os.path.abspath(path) if rel.startswith(os.path.join("..", "..")) else rel


def command_line(module, argv):
    """The command that reproduces a script run, as a copy-pasteable string."""
    return " ".join(["python", "-m", module, *argv])


def write_json(path, data):
    """Write JSON atomically (temp file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def finish(module, result, json_out=""):
    """Print a script's markdown (stdout) and optionally save its result (markdown, rows, targets) as JSON."""
    result = dict(result, command=command_line(module, sys.argv[1:]))
    text = result["markdown"]
    if result.get("targets"):
        text += "\n\n" + targets_table(result["targets"])
    cli.emit(text)
    if json_out:
        write_json(json_out, result)
    return result


class _IntListParser(flags.ListParser):
    """Comma-separated integers."""

    def parse(self, argument):
        values = super().parse(argument)
        try:
            return [int(v) for v in values]
        except ValueError:
            raise ValueError(f"expected comma-separated integers, got {argument!r}") from None


def define_int_list(name, default, help_text):
    """A flag holding a list of integers written 1,2,4."""
    flags.DEFINE(_IntListParser(), name, default, help_text, serializer=flags.CsvListSerializer(","))


def define_output_flags(child=False):
    """--json_out, and the --child through which a stage re-runs itself in a fresh process (set by run_child)."""
    flags.DEFINE_string("json_out", "", "Also write the result as JSON here.")
    if child:
        flags.DEFINE_string("child", "", "Internal: one measurement with these JSON settings (run_child passes it).")


def run(main, module, child=None):
    """A benchmark's entry point (tfnormals.core.cli): main(FLAGS) once the flags are parsed, or, started by
    run_child with --child=JSON, child(settings): one measurement, which emits its result. A failed child
    process is reported as a failure (exit 1) naming it."""
    def entry(argv):
        del argv
        if child is not None and flags.FLAGS.child:
            child(json.loads(flags.FLAGS.child))
            return 0
        code = main(flags.FLAGS)
        return code if isinstance(code, int) else 0
    cli.run(entry, module, failures=(ChildError,))


def target(name, measured, met, limits):
    """One row of the Targets table."""
    return {"target": name, "measured": measured, "met": bool(met), "limits": limits}


def targets_table(targets):
    return markdown_table(["target", "measured", "met", "what limits it"],
                          [[t["target"], t["measured"], "yes" if t["met"] else "no",
                            t["limits"]] for t in targets])
