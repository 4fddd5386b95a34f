"""tfnormals.core.cli's --help text and tfnormals.core.tf_startup's filter, in process (the commands: tests/cli)."""

from absl import flags

from tfnormals.core import cli, tf_startup

DOC = """Do a thing.

Usage:
  python -m tfnormals.thing --input=F
"""


def test_help_lists_the_flags_of_every_module_but_absls():
    values = flags.FlagValues()
    flags.DEFINE_string("input", "in.png", "The plate.", flag_values=values, module_name="tfnormals.thing")
    flags.DEFINE_float("hfov", 0.0, "Field of view.", flag_values=values, module_name="tfnormals.core.camera")
    flags.DEFINE_boolean("combined", False, "One EXR.", flag_values=values, module_name="tfnormals.thing")
    flags.DEFINE_integer("verbosity", 0, "Logging.", flag_values=values, module_name="absl.logging")
    text = cli.help_text(DOC, values)
    assert text.startswith("Do a thing.\n\nUsage:\n  python -m tfnormals.thing --input=F\n")
    assert "  --input (default: 'in.png')\n      The plate." in text
    assert "--hfov (default: '0.0')" in text and "--[no]combined (default: 'false')" in text
    assert "--verbosity" not in text and "Exit codes: 0 done, 1 the work failed, 2 a usage mistake" in text
    assert "--verbosity (default: '0')" in cli.help_text(DOC, values, full=True)


# What TensorFlow 2.21 printed on this machine (no GPU) for `import tensorflow; tf.config.list_physical_devices()`.
RAW_STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796524091.763168   16230 port.cc:153] oneDNN custom operations are on. You may see slightly different.
I0000 00:00:1796524091.763494   16230 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796524094.586222   16230 port.cc:153] oneDNN custom operations are on. You may see slightly different.
I0000 00:00:1796524094.586943   16230 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will
E0000 00:00:1796524095.302478   16230 cuda_platform.cc:52] failed call to cuInit: INTERNAL: ... (303)
"""


def test_startup_is_printed_once_without_the_cuinit_error_when_there_is_no_driver():
    kept = tf_startup.quiet(RAW_STARTUP).splitlines()
    assert kept == RAW_STARTUP.splitlines()[:3]


def test_startup_keeps_the_cuinit_error_when_a_driver_is_there_and_every_other_line():
    with_driver = "\n".join(line for line in RAW_STARTUP.splitlines() if "cuda drivers" not in line)
    kept = tf_startup.quiet(with_driver + "\nE0000 00:00:1.0 1 op.cc:1] something else failed\n")
    assert any("failed call to cuInit" in line for line in kept.splitlines())
    assert kept.splitlines()[-1].endswith("something else failed")
    assert sum("oneDNN" in line for line in kept.splitlines()) == 1
