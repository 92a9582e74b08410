"""`pip install kfp-mlops` (kfp alone) must be enough to import every component and to
compile every pipeline: heavy libraries are imported only inside component bodies and cores.

The check runs in a fresh interpreter whose import system refuses the heavy libraries, so
an import that slips to a module's top level fails here even though the test environment
has every library installed.
"""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

HEAVY = ["tensorflow", "keras", "tensorflow_data_validation", "tfx_bsl", "apache_beam",
         "pandas", "pyarrow", "numpy", "sklearn", "scipy", "google.cloud.aiplatform",
         "google.cloud.bigquery", "google.cloud.storage", "google.cloud.pubsub",
         "tensorflow_metadata"]

SCRIPT = r"""
import importlib, importlib.abc, json, pkgutil, sys, tempfile

HEAVY = json.loads(sys.argv[1])

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == h or name.startswith(h + ".") for h in HEAVY):
            raise ImportError(f"heavy import of {name!r} at import or compile time")
        return None

sys.meta_path.insert(0, Refuse())

import kfp_mlops.components as components
modules = []
for info in pkgutil.iter_modules(components.__path__):
    if info.ispkg and not info.name.startswith("_"):
        name = f"kfp_mlops.components.{info.name}.component"
        importlib.import_module(name)
        modules.append(name)

from kfp_mlops.pipelines import catalog, compiling
with tempfile.TemporaryDirectory() as tmp:
    paths = compiling.compile_pipelines(tmp)
print(json.dumps({"components": modules, "pipelines": catalog.names(), "compiled": len(paths)}))
"""


def test_components_and_compile_need_only_kfp():
    result = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(HEAVY)], cwd=ROOT / "tests",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "kfp_mlops.components.ingest.component" in report["components"]
    assert report["compiled"] == len(report["pipelines"]) >= 1


def test_the_blocker_really_blocks():
    """The check above is only worth something if a heavy import does fail under it."""
    script = SCRIPT.replace("import kfp_mlops.components as components",
                            "import pandas\nimport kfp_mlops.components as components")
    result = subprocess.run([sys.executable, "-c", script, json.dumps(HEAVY)], cwd=ROOT / "tests",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "heavy import of 'pandas'" in result.stderr
