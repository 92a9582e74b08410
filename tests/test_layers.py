"""The layers of the package, read from every module's imports (at any depth of the module):

    pipelines  ->  components (-> images) -> components._shared

- nothing under ``components/`` or ``images/`` imports ``kfp_mlops.pipelines`` (a component
  that needs a pipeline run starts the CLI as a process, as retrain does);
- a component imports no other component's ``core`` or ``component``: what one component
  produces and another reads has a reader module of its producer (``monitor/report.py``,
  STYLE.md habit 8) or lives in ``_shared``;
- ``_shared`` imports no component.

A module is read as text (``ast``), so an import inside a function counts as much as one at the
top: layering is about what a module may reach, not when.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "kfp_mlops"
COMPONENTS = sorted(p.name for p in (ROOT / "components").iterdir()
                    if (p / "component.py").is_file())
#: Modules one component may import from another: the producers' readers.
READERS = {"kfp_mlops.components.monitor.report",
           "kfp_mlops.components.evaluate.slices",   # push's model card: the slice gaps
           # push's endpoint traffic update, which registry_alias's rollback reuses
           "kfp_mlops.components.push.deploy",
           # performance reads predict's predictions and labels as ingest reads a source
           "kfp_mlops.components.predict.predictions",
           "kfp_mlops.components.ingest.core",       # predict, performance: the source reader
           "kfp_mlops.components.push.records"}   # blessing, dataset record, push.json
#: Of these, the ones a component may take only some names of: ingest's source reader (what
#: predict reads a batch with, exactly as ingest reads it) lives in ingest's core beside the
#: splitting, and only the reading API may be imported from there.
READER_NAMES = {"kfp_mlops.components.ingest.core": {"iter_source", "check_csv_delimiter",
                                                     "is_bigquery", "IngestError"}}


def _modules(folder: str):
    """The modules the wheel ships from ``folder``: those inside packages (developer tools in
    folders without ``__init__.py``, such as the image builders, are not part of it)."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        packages = path.relative_to(ROOT).parents[:-1]
        if all((ROOT / p / "__init__.py").is_file() for p in packages):
            yield path, ast.parse(path.read_text(), str(path))


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:  # from kfp_mlops.components.monitor import core
                yield node.lineno, f"{node.module}.{alias.name}"


def _component_of(path: pathlib.Path):
    parts = path.relative_to(ROOT / "components").parts
    return parts[0] if len(parts) > 1 else None


def test_the_components_are_found():
    assert {"ingest", "validate", "train", "evaluate", "push", "monitor"} <= set(COMPONENTS)


@pytest.mark.parametrize("folder", ["components", "images"])
def test_nothing_below_pipelines_imports_pipelines(folder):
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path, tree in _modules(folder) for line, name in _imports(tree)
             if name == f"{PACKAGE}.pipelines" or name.startswith(f"{PACKAGE}.pipelines.")]
    assert not found, "\n".join(found)


def test_no_component_reaches_into_another():
    found = []
    for path, tree in _modules("components"):
        own = _component_of(path)
        for line, name in _imports(tree):
            parts = name.split(".")
            if parts[:2] != [PACKAGE, "components"] or len(parts) < 4:
                continue
            other = parts[2]
            if other == "_shared":
                continue
            if own == "_shared":
                found.append(f"{path.relative_to(ROOT)}:{line}: _shared imports {name}")
            elif other != own and other in COMPONENTS and ".".join(parts[:4]) not in READERS:
                found.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {name}")
    assert not found, "\n".join(found)


def test_a_reader_a_component_may_import_is_light():
    """What one component reads of another's must not pull that one's heavy core in."""
    for name in READERS:
        path = ROOT / "components" / pathlib.Path(*name.split(".")[2:]).with_suffix(".py")
        imported = {n for _, n in _imports(ast.parse(path.read_text()))}
        assert not any(n.startswith(f"{PACKAGE}.components.") and n.endswith(".core")
                       for n in imported), (name, sorted(imported))


def test_a_reader_with_named_parts_is_imported_by_name():
    """``from <reader> import name`` with names from :data:`READER_NAMES` only."""
    found = []
    for path, tree in _modules("components"):
        own = _component_of(path)
        for node in ast.walk(tree):
            for module, names in READER_NAMES.items():
                if own == module.split(".")[2]:
                    continue
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                parent, _, leaf = module.rpartition(".")
                if isinstance(node, ast.Import) and any(a.name == module for a in node.names):
                    found.append(f"{where} imports {module} whole")
                elif isinstance(node, ast.ImportFrom) and node.module == parent and \
                        any(a.name == leaf for a in node.names):
                    found.append(f"{where} imports {module} whole")
                elif isinstance(node, ast.ImportFrom) and node.module == module:
                    other = sorted(a.name for a in node.names if a.name not in names)
                    if other:
                        found.append(f"{where} imports {other} from {module}; only "
                                     f"{sorted(names)} may be")
    assert not found, "\n".join(found)
