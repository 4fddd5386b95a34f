"""Entry point shared by every command: one line per user mistake, exit codes, stdout kept for results.

    def main(argv): ...; cli.emit({"written": 3})
    if __name__ == "__main__":
        define_flags()
        cli.run(main, "tfnormals.predict", failures=(runs.RunError,))

Exit codes (README "Commands"):
  0  done.
  1  the work failed: an input could not be read, some frames or samples failed, a file is damaged.
  2  usage: a flag is missing, malformed or out of range, or a path it names does not exist or is
     the wrong kind. Nothing was done.
  130 interrupted (Ctrl-C).
Expected failures print `<command>: error: <one line>` on stderr; anything else is a bug in
tfnormals and prints its traceback and a line asking to report it.

stdout carries only the command's result (a JSON summary, written by `emit`): once flags are
parsed, file descriptor 1 is pointed at stderr, so logs, progress, library warnings and C-level
chatter (image libraries may print warnings on stdout) cannot break a script parsing the summary.

`--help` (or -h, --helpshort) prints the command's docstring and every flag it defines, wherever
the flag is declared (the command, tfnormals.core.camera, a config dataclass, ...), on stdout and
exits 0; `--helpfull` adds absl's own flags. Importing this module also quiets TensorFlow's
start-up for the command (tfnormals.core.tf_startup).
"""

import functools
import json
import os
import sys
import traceback

from absl import app, flags

from tfnormals.core import errors, tf_startup

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
REPORT_HINT = "this is a bug in tfnormals; please report it with the command line and the traceback above"

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--help=true")
FULL_HELP_FLAG = "--helpfull"
HELP_WIDTH = 100

_result_stream = None  # the real stdout once run() has moved fd 1 to stderr
tf_startup.install()


def run(main, name, failures=()):
    """absl's app.run with this module's error handling (see the module docstring).

    Args:
      main: the command's main(argv).
      name: the command as the user types it after `python -m`, used to prefix messages.
      failures: extra exception types that are expected failures (exit 1), e.g. pairs.SampleError.
    """
    app.run(functools.partial(_guarded, main, name, tuple(failures)),
            flags_parser=functools.partial(_parse_flags, name))


def emit(result):
    """Write the command's result to stdout: a dict as one JSON line, anything else as text."""
    stream = _result_stream or sys.stdout
    stream.write((json.dumps(result) if isinstance(result, dict) else str(result)) + "\n")
    stream.flush()


def help_text(doc, flag_values=flags.FLAGS, full=False):
    """The command's help: its docstring (usage, what it writes), then every flag a user of it can give — all but
    absl's own unless `full` — with its default, and the exit codes."""
    lines = [(doc or "").strip(), "", "Flags:"]
    for module, module_flags in flag_values.flags_by_module_dict().items():
        if module.startswith("absl.") and not full:
            continue
        for flag in module_flags:
            name = f"--[no]{flag.name}" if flag.boolean else f"--{flag.name}"
            lines.append(f"  {name} (default: {flag.default_as_str})")
            lines.append(flags.text_wrap(flag.help, HELP_WIDTH, indent="      "))
    lines += ["", "  --flagfile=FILE reads flags from a file, one per line; later flags override it."]
    if not full:
        lines.append("  --helpfull also lists absl's own flags (logging, ...).")
    lines += ["", f"Exit codes: {EXIT_OK} done, {EXIT_FAILED} the work failed, {EXIT_USAGE} a usage mistake "
                  f"(nothing was done), {EXIT_INTERRUPTED} interrupted."]
    return "\n".join(lines) + "\n"


def _parse_flags(name, argv):
    asked = set(argv[1:])
    if asked & set(HELP_FLAGS) or FULL_HELP_FLAG in asked:
        doc = getattr(sys.modules.get("__main__"), "__doc__", "")
        sys.stdout.write(help_text(doc, full=FULL_HELP_FLAG in asked))
        sys.exit(EXIT_OK)
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        _exit(name, EXIT_USAGE, errors.one_line(e))


def _exit(name, code, message):
    sys.stderr.write(f"{name}: error: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


def _move_stdout_to_stderr():
    """Point fd 1 at stderr and keep a private handle on the real stdout for emit()."""
    global _result_stream
    if _result_stream is not None:
        return
    sys.stdout.flush()
    _result_stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)


def _guarded(main, name, failures, argv):
    """Run main(argv) and turn expected exceptions into one-line messages and exit codes."""
    from tfnormals.core import image_io  # numpy/OpenImageIO; deferred so that --help stays instant
    if len(argv) > 1:
        _exit(name, EXIT_USAGE, f"unexpected argument(s) {' '.join(argv[1:])!r}; every input is a --flag "
                                "(--help lists them)")
    _move_stdout_to_stderr()
    try:
        code = main(argv)
    except (errors.UsageError, app.UsageError) as e:
        _exit(name, EXIT_USAGE, errors.one_line(e))
    except (errors.Failure, image_io.ImageError, OSError, MemoryError, *failures) as e:
        _exit(name, EXIT_FAILED, errors.one_line(e))
    except KeyboardInterrupt:
        _exit(name, EXIT_INTERRUPTED, "interrupted; finished outputs are kept and a re-run resumes")
    except Exception:  # a bug: show everything
        traceback.print_exc()
        _exit(name, EXIT_FAILED, REPORT_HINT)
    return code or EXIT_OK
