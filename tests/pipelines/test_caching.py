"""Each task's compiled caching setting: nothing that reads data or state outside its inputs
is ever reused (pipelines/caching.py says why validate and train may be)."""
import os
import subprocess
import sys

import pytest
import yaml

from kfp_mlops.pipelines import caching, catalog, compiling


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    """pipeline name -> {task name: (component, cache on?)} from the compiled YAML."""
    out = tmp_path_factory.mktemp("caching")
    found = {}
    for name in catalog.names():
        spec = yaml.safe_load(open(compiling.compile_pipeline(name, str(out))))
        found[name] = {
            task: (body["componentRef"]["name"].removeprefix("comp-"),
                   body["cachingOptions"].get("enableCache", False))
            for task, body in spec["root"]["dag"]["tasks"].items()}
    return found


def test_monitoring_never_caches(tasks):
    assert set(tasks["monitoring"]) == {"ingest", "monitor", "alert", "retrain"}
    assert {task: on for task, (_, on) in tasks["monitoring"].items()} == {
        "ingest": False, "monitor": False, "alert": False, "retrain": False}


def test_training_caches_only_validate_and_train(tasks):
    """Tracking writes to a store outside the run, so a cached result would skip the record."""
    assert {task: on for task, (_, on) in tasks["training"].items()} == {
        "ingest": False, "validate": True, "train": True, "evaluate": False, "push": False,
        "track": False}


def test_data_validation_reads_new_data_every_run(tasks):
    assert {task: on for task, (_, on) in tasks["data-validation"].items()} == {
        "ingest": False, "validate": True}


def test_every_cached_task_is_a_reusable_component(tasks):
    for pipeline, found in tasks.items():
        for task, (component, on) in found.items():
            assert on == (pipeline != "monitoring" and component in caching.REUSABLE), \
                (pipeline, task)


def test_compiled_caching_does_not_depend_on_the_shell(tmp_path):
    """kfp reads KFP_DISABLE_EXECUTION_CACHING_BY_DEFAULT when it is imported; every task's
    setting is explicit, so the compiled spec is the same with it set."""
    here = compiling.compile_pipeline("training", str(tmp_path / "here"))
    env = dict(os.environ, KFP_DISABLE_EXECUTION_CACHING_BY_DEFAULT="true")
    subprocess.run([sys.executable, "-c",
                    "import sys; from kfp_mlops.pipelines import compiling; "
                    "compiling.compile_pipeline('training', sys.argv[1])",
                    str(tmp_path / "there")], env=env, check=True, timeout=300)
    assert open(here, "rb").read() == open(tmp_path / "there" / "training.yaml", "rb").read()
