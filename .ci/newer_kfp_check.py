"""Reuse check run by .ci/newer_kfp.sh in a virtualenv holding only the newest kfp.

    python .ci/newer_kfp_check.py sources   # every pipeline compiles from its Python source
    python .ci/newer_kfp_check.py specs     # every components/*/component.yaml loads, and
                                            # every pipeline compiles from those specs

``specs`` swaps each ``kfp_mlops.components.<name>.component.<name>`` for the component
loaded from its YAML *before* the pipeline modules are imported, so the pipelines are
rebuilt from the committed specs alone, exactly as a team reusing them would.
"""
import glob
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _compile_every_pipeline(label: str) -> None:
    from kfp_mlops.pipelines import catalog, compiling

    with tempfile.TemporaryDirectory() as out:
        for name in catalog.names():
            compiling.compile_pipeline(name, out)
            compiling.compile_pipeline(name, out, "europe-docker.pkg.dev/p/r", "check")
            print(f"  {label}: {name} compiles")


def sources() -> None:
    _compile_every_pipeline("from source")


def specs() -> None:
    import importlib

    from kfp import components

    paths = sorted(glob.glob(os.path.join(ROOT, "components", "*", "component.yaml")))
    if not paths:
        raise SystemExit("no components/*/component.yaml found; run `kfp-mlops components`")
    for path in paths:
        name = os.path.basename(os.path.dirname(path))
        loaded = components.load_component_from_file(path)
        # kfp names a component after its function, with '_' written as '-'
        if loaded.name != name.replace("_", "-"):
            raise SystemExit(f"{path} names component {loaded.name!r}, expected "
                             f"{name.replace('_', '-')!r}")
        module = importlib.import_module(f"kfp_mlops.components.{name}.component")
        setattr(module, name, loaded)
        print(f"  {os.path.relpath(path, ROOT)} loads")
    _compile_every_pipeline("from component.yaml")


if __name__ == "__main__":
    import kfp

    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("sources", "specs"):
        raise SystemExit("usage: newer_kfp_check.py sources|specs")
    print(f"kfp {kfp.__version__}: {mode}")
    {"sources": sources, "specs": specs}[mode]()
