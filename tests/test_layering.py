"""The package layers import only downward, and the renderer's side never loads TensorFlow.

Layers of tfnormals, lowest first: core < data < model < training < tools < the command modules
(tfnormals.train, export, evaluate, predict, relight). A module may import its own layer and
those below it, never above, and no set of modules may import each other in a cycle. data_tools
(the renderer, make_records) may use tfnormals.core and the records format (tfnormals.data.schema,
tfnormals.data.pairs) only, and nothing in tfnormals imports data_tools; only a command may run one
as a child process (`python -m data_tools.render`: the train command renders its own small data set),
and those module names, written as strings, are read as dependencies too. tfnormals.blender runs inside
Blender's Python: it may use only itself and the plain core modules (errors, json_files, outputs, layout).

The graph is read from the source with ast, so imports inside functions count as much as
top-level ones (a lazy import is still a dependency).
"""

import ast
import os
import subprocess
import sys

import pytest
from helpers import REPO, subprocess_env

PACKAGES = ("tfnormals", "data_tools")
LAYERS = ("core", "data", "model", "training", "tools")
COMMAND_LAYER = len(LAYERS)
DATA_TOOLS_MAY_USE = ("tfnormals.core", "tfnormals.data.schema", "tfnormals.data.pairs")  # and the packages above
# Third-party packages a layer must not import at all (not even lazily).
TENSORFLOW = ("tensorflow", "keras", "tf_keras")
MITSUBA = ("mitsuba", "drjit")
# tfnormals.blender runs in Blender's Python (bpy, no TensorFlow, OpenImageIO or absl): it may use only itself and
# these plain core modules.
BLENDER_MAY_USE = ("tfnormals.blender", "tfnormals.core.errors", "tfnormals.core.json_files", "tfnormals.core.outputs",
                   "tfnormals.core.layout")
NOT_IN_BLENDER = TENSORFLOW + ("OpenImageIO", "PyOpenColorIO", "absl")


def module_files():
    """{module name: path} of every .py file of the two packages (a package's __init__ is the package)."""
    found = {}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(REPO, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, name), REPO)[:-3].split(os.sep)
                    found[".".join(rel[:-1] if rel[-1] == "__init__" else rel)] = os.path.join(folder, name)
    return found


def imports_of(module, path, modules):
    """(line, imported name) of every import in a file, top-level or inside functions.

    `from X import y` names module X.y when that is a module of the tree, else X. Relative imports
    are resolved against `module`.
    """
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    is_package = os.path.basename(path) == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                parent = parts if is_package else parts[:-1]
                parent = parent[:len(parent) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if candidate in modules else base))
    return found


def child_commands_of(path, modules):
    """(line, module) of every string constant in a file that is exactly a data_tools module's name: a command it
    runs as a child process (`python -m data_tools.render`), a dependency the import graph cannot see."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    return [(node.lineno, node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and node.value.startswith("data_tools") and node.value in modules]


def child_process_violations(runs):
    """Every tfnormals module below the command layer that runs data_tools as a child process."""
    return [f"{module}:{line} -> {name} (only a command may run data_tools, as a child process)"
            for module, found in runs.items() if module.startswith("tfnormals") and layer_of(module) < COMMAND_LAYER
            for line, name in found]


def layer_of(module):
    """The layer index of a tfnormals module (the package itself is at the bottom)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    if parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return COMMAND_LAYER


def within(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.fixture(scope="module")
def graph():
    """{module: [(line, imported module of the tree or third-party name)]} over both packages."""
    modules = module_files()
    return {m: imports_of(m, path, modules) for m, path in sorted(modules.items())}


def violations(graph):
    """Every import that breaks a rule, as 'importer:line -> imported (why)'."""
    found = []
    for module, imports in graph.items():
        for line, name in imports:
            where = f"{module}:{line} -> {name}"
            top = name.split(".")[0]
            if module.startswith("tfnormals"):
                if top == "data_tools":
                    found.append(f"{where} (tfnormals never imports data_tools)")
                elif top == "tfnormals" and layer_of(name) > layer_of(module):
                    found.append(f"{where} (upward: layer {layer_of(module)} imports layer {layer_of(name)})")
                if top in MITSUBA:
                    found.append(f"{where} (Mitsuba belongs to data_tools)")
                if within(module, ("tfnormals.core",)) and top in TENSORFLOW:
                    found.append(f"{where} (tfnormals.core never imports TensorFlow)")
                if within(module, ("tfnormals.blender",)) and (
                        top in NOT_IN_BLENDER or (top == "tfnormals" and name != "tfnormals"
                                                  and not within(name, BLENDER_MAY_USE))):
                    found.append(f"{where} (tfnormals.blender runs in Blender's Python: bpy, the standard library "
                                 "and plain core modules only)")
            else:
                allowed = name in ("tfnormals", "tfnormals.data") or within(name, DATA_TOOLS_MAY_USE)
                if top == "tfnormals" and not allowed:
                    found.append(f"{where} (data_tools may use only tfnormals.core, data.schema and data.pairs)")
                if within(module, ("data_tools.scene",)) and top in TENSORFLOW + MITSUBA:
                    found.append(f"{where} (the scene generator is plain numpy)")
    return found


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan), each as a sorted list."""
    edges = {m: sorted({name for _, name in imports if name in graph and name != m}) for m, imports in graph.items()}
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return result


def test_the_graph_covers_every_layer(graph):
    """The walk found every layer and both packages (so the rules below are not vacuous)."""
    layers = {layer_of(m) for m in graph if m.startswith("tfnormals.")}
    assert layers == set(range(COMMAND_LAYER + 1))
    assert "data_tools.scene.procedural" in graph and "tfnormals.core.layout" in graph
    assert "tfnormals.blender.composite" in graph
    assert sum(len(imports) for imports in graph.values()) > 100


def test_imports_run_downward_only(graph):
    assert violations(graph) == []


def test_only_commands_run_the_data_tools():
    """The library never runs data_tools behind the import graph's back; the train command does, by name."""
    modules = module_files()
    runs = {m: child_commands_of(path, modules) for m, path in modules.items()}
    assert child_process_violations(runs) == []
    assert [name for _, name in runs["tfnormals.train"]] == ["data_tools.render", "data_tools.make_records"]
    assert child_process_violations({"tfnormals.training.loop": [(55, "data_tools.render")]}) != []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_rules_catch_bad_imports():
    """Hand-made graphs with an upward import, a data_tools import, a TensorFlow import in core, a cycle and
    imports Blender's Python lacks."""
    bad = {"tfnormals.core.srgb": [(3, "tfnormals.model.layers"), (4, "tensorflow")],
           "tfnormals.model.layers": [(1, "data_tools.render")],
           "data_tools.render": [(2, "tfnormals.training.loop"), (3, "tfnormals.data.pairs")],
           "data_tools.scene.a": [(1, "data_tools.scene.b"), (2, "keras")],
           "data_tools.scene.b": [(1, "data_tools.scene.a")],
           "tfnormals.blender.composite": [(1, "tfnormals.core.image_io"), (2, "absl"), (3, "tfnormals.core.errors")]}
    found = violations(bad)
    assert len(found) == 7, found
    assert any("upward" in v for v in found) and any("never imports data_tools" in v for v in found)
    assert cycles(bad) == [["data_tools.scene.a", "data_tools.scene.b"]]


def test_relative_and_function_level_imports_are_read(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from . import sibling\nfrom ..core import layout\n\ndef f():\n    from .sibling import thing\n")
    modules = {"tfnormals.model.sibling", "tfnormals.core.layout"}
    assert imports_of("tfnormals.model.mod", str(path), modules) == [
        (1, "tfnormals.model.sibling"), (2, "tfnormals.core.layout"), (5, "tfnormals.model.sibling")]


IMPORT_ALL = """
import importlib, json, pkgutil, sys
names = []
for package in sys.argv[1:]:
    module = importlib.import_module(package)
    names.append(package)
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            importlib.import_module(info.name)
            names.append(info.name)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "mitsuba", "drjit"})
print(json.dumps({"imported": names, "heavy": heavy}))
"""


def import_in_fresh_interpreter(*packages):
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL, *packages], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_core_and_the_scene_generator_load_neither_tensorflow_nor_mitsuba():
    result = import_in_fresh_interpreter("tfnormals.core", "data_tools.scene")
    assert "tfnormals.core.image_io" in result["imported"] and "data_tools.scene.procedural" in result["imported"]
    assert result["heavy"] == []


def test_the_data_tools_and_the_records_format_do_not_load_tensorflow():
    """The renderer process must never hold TensorFlow (Dr.Jit crashes when loaded after it): every
    data_tools module and the records format import it, if at all, only inside functions."""
    result = import_in_fresh_interpreter("data_tools", "tfnormals.data.schema", "tfnormals.data.pairs")
    assert "data_tools.render" in result["imported"] and "data_tools.make_records" in result["imported"]
    assert result["heavy"] == []
