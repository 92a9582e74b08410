"""Every component compiled to its own ``components/<name>/component.yaml``.

A team that does not install kfp-mlops can still reuse one step::

    from kfp import components
    validate = components.load_component_from_file("components/validate/component.yaml")

The files are compiled with the same deterministic helper as the pipelines
(``compiling.compile_to_text``), at the default image registry and tag (the package
version); ``kfp-mlops components --check`` (and tests/pipelines/test_components_catalog.py)
fail when a committed file no longer equals a fresh compile.
"""
import importlib
import os
from typing import Callable, Dict, List, Optional

SPEC_FILE = "component.yaml"


def components_dir() -> str:
    """The folder the ``kfp_mlops.components`` package is imported from."""
    import kfp_mlops.components as package

    return list(package.__path__)[0]


def names() -> List[str]:
    """Every component: a sub-package of ``kfp_mlops.components`` with a ``component.py``."""
    root = components_dir()
    return sorted(entry for entry in os.listdir(root)
                  if not entry.startswith(("_", "."))
                  and os.path.isfile(os.path.join(root, entry, "component.py")))


def get(name: str) -> Callable:
    """The ``@dsl.component`` function ``kfp_mlops.components.<name>.component.<name>``."""
    if name not in names():
        raise KeyError(f"unknown component {name!r}; components are: {', '.join(names())}")
    module = importlib.import_module(f"kfp_mlops.components.{name}.component")
    return getattr(module, name)


def component_spec(name: str, registry: Optional[str] = None,
                   tag: Optional[str] = None) -> str:
    """One component's spec YAML text (``compiling.compile_to_text``)."""
    from kfp_mlops.pipelines import compiling

    return compiling.compile_to_text(get(name), registry, tag)


def spec_path(output_root: str, name: str) -> str:
    return os.path.join(output_root, name, SPEC_FILE)


def component_specs(registry: Optional[str] = None, tag: Optional[str] = None
                    ) -> Dict[str, str]:
    """``{name: spec text}`` for every component, at the default images unless given;
    nothing is written (:func:`write_all` writes them)."""
    return {name: component_spec(name, registry, tag) for name in names()}


def stale(output_root: str, fresh: Optional[Dict[str, str]] = None) -> List[str]:
    """Paths of component specs that are missing or differ from a fresh compile."""
    fresh = component_specs() if fresh is None else fresh
    out = []
    for name, text in sorted(fresh.items()):
        path = spec_path(output_root, name)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            out.append(path)
    return out


def write_all(output_root: str, registry: Optional[str] = None,
              tag: Optional[str] = None) -> List[str]:
    """Writes every stale spec under ``output_root``; returns the paths written.

    With ``registry``/``tag`` the specs name ``registry/<image>:tag``: a catalogue for a
    team that pushed our images to its own registry.
    """
    from kfp_mlops.components._shared import io

    fresh = component_specs(registry, tag)
    changed = stale(output_root, fresh)
    for name, text in fresh.items():
        path = spec_path(output_root, name)
        if path in changed:
            io.write_text(path, text)
    return changed
