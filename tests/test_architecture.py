"""The package's layers: subpackages import only the layers below them, and no module imports in a circle.

The graph is read from the source with `ast` (every `import`, at module level
or inside a function), so an import hidden in a function counts too.
"""

import ast
import importlib
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "gan_keras"

# Lowest first: a subpackage may import itself and the ones before it.
LAYERS = ("utils", "nets", "data", "evaluation", "training", "serving", "paper", "cli")


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path, known):
    """The gan_keras modules `path` imports (`from a import b` counts `a.b` if that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known and n != "gan_keras")
    return found


def graph():
    known = modules()
    return {name: imported(path, known) - {name} for name, path in known.items()}


def layer(name):
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def find_cycle(edges):
    """A list of modules forming an import cycle, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_find_cycle_sees_a_cycle_and_its_absence():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_in_a_circle():
    edges = {m: {d for d in deps if not d.endswith("__init__")} for m, deps in graph().items()}
    # A package's __init__ re-exports its modules; count only module-to-module edges.
    edges = {m: {d for d in deps if not (m.startswith(d + ".") or d == m)} for m, deps in edges.items()}
    assert find_cycle(edges) is None


def test_lower_layers_never_import_upper_ones():
    upward = [
        f"{name} (layer {LAYERS[layer(name)] if layer(name) < len(LAYERS) else 'top'}) imports {dep}"
        for name, deps in graph().items()
        for dep in sorted(deps)
        if layer(dep) > layer(name)
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_imports_and_declares_its_public_names(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no docstring"
    if name.endswith("__main__"):
        return
    public = getattr(module, "__all__", None)
    assert public is not None, f"{name} has no __all__"
    for attr in public:
        value = getattr(module, attr)
        if callable(value):
            assert value.__doc__, f"{name}.{attr} has no docstring"
