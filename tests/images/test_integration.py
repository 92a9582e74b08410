"""The images as built on this machine: each one passes its checks, and the pipelines run in
them (``kfp.local.DockerRunner``, every task in the image its compiled spec names) give what
the subprocess runner gives on the same data.

Run with ``make test-images`` (it builds the images first); ``make test`` leaves these out.
The first build on a machine pays for the stand-in base and ~1.5 GB of wheels; podman's
layer cache makes the next one take seconds. The builds, checks and the Docker API (podman's,
when no Docker engine answers) come from the developer tools in ``images/tools``.
"""
import json
import math
import os
import pathlib

import local_images
import pytest

from kfp_mlops import images
from kfp_mlops.pipelines import catalog, docker_runner, local

pytestmark = pytest.mark.images

ROOT = pathlib.Path(__file__).resolve().parents[2]
PENGUINS = str(ROOT / "pipelines" / "data" / "penguins.csv")
TRAINING = {"data_uri": PENGUINS, "label_column": "species", "model_name": "penguins",
            "epochs": 5, "thresholds": {"accuracy": 0.5}, "slice_columns": ["island"]}
#: Most the slim image's own layers (above its base) may add: the packages it installs.
SLIM_LAYERS_LIMIT = 600e6
#: Largest difference allowed between the two runners' evaluation metrics (same TensorFlow,
#: same seeds; only thread scheduling may differ).
METRIC_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def built():
    """Every image, built (seconds when ``make images`` already built them)."""
    return {r.image: r for r in local_images.build_images()}


@pytest.fixture(scope="module")
def runs(built, tmp_path_factory):
    """The training pipeline (and monitoring, when the catalogue has it) run by each runner,
    each with a registry of its own; the docker runs through the Docker API at DOCKER_HOST
    (podman's, started for them, when no Docker engine answers)."""
    found = {}
    with local_images.docker_api():
        _run_both(found, tmp_path_factory)
    return found


def _run_both(found, tmp_path_factory):
    for runner in ("subprocess", "docker"):
        work = tmp_path_factory.mktemp(runner)
        registry = str(work / "registry")
        params = {**TRAINING, "registry_uri": registry}
        found[runner] = {"training": local.run("training", params, str(work / "outputs"),
                                               runner=runner), "registry": registry}
        if "monitoring" in catalog.PIPELINES:
            found[runner]["monitoring"] = local.run(
                "monitoring", {"data_uri": PENGUINS, "model_name": "penguins",
                               "registry_uri": registry}, str(work / "monitoring"),
                runner=runner)


def _task(summary, name):
    return next(t for t in summary.tasks if t.name == name)


def test_every_image_passes_its_checks(built):
    results = local_images.check_images(names=list(built))
    report = {r.image: (r.ok, r.uid, round(r.size_bytes / 1e6), r.problems) for r in results}
    assert all(r.ok for r in results), report
    assert {r.image for r in results} == set(images.IMAGES)
    for result in results:
        assert result.uid == docker_runner.IMAGE_UID
        assert result.size_bytes > 0
    # Sizes depend on the base (a local stand-in here); what the Dockerfiles add is ours.
    sizes = {r.image: r.size_bytes for r in results}
    added = {name: size - local_images.image_size(built[name].engine, built[name].base)
             for name, size in sizes.items()}
    assert added[images.PYTHON_SLIM] < SLIM_LAYERS_LIMIT, added
    assert sizes[images.PYTHON_SLIM] * 3 < sizes[images.PYTHON], sizes


def test_images_are_tagged_as_compiled_specs_name_them(built, tmp_path):
    from kfp_mlops.pipelines import compiling

    for name, result in built.items():
        assert result.uri == images.uri(name)
    spec = compiling.compile_pipeline("training", str(tmp_path))
    text = pathlib.Path(spec).read_text()
    assert images.uri(images.PYTHON) in text


def test_training_runs_every_task_in_the_images(runs):
    docker = runs["docker"]["training"]
    assert docker.status == "SUCCESS", (docker.error, [(t.name, t.status) for t in docker.tasks])
    assert [t.name for t in docker.tasks] == \
        [t.name for t in runs["subprocess"]["training"].tasks]
    # Held to the Kubeflow launcher's rules like a subprocess run (a first run: no champion)
    assert [t.error for t in docker.tasks] == [""] * len(docker.tasks)
    assert "champion_version" not in _task(docker, "evaluate").outputs["blessing"]["metadata"]
    # The tasks ran as the images' user: their outputs belong to uid 1000.
    dataset = _task(docker, "ingest").outputs["dataset"]["uri"]
    assert os.stat(dataset).st_uid == docker_runner.IMAGE_UID


def test_same_splits(runs):
    sub, dock = (_task(runs[r]["training"], "ingest").outputs["dataset"]["metadata"]
                 for r in ("subprocess", "docker"))
    for key in ("splits", "num_rows", "content_hash", "columns", "label_column"):
        assert dock[key] == sub[key], key
    assert sum(dock["splits"].values()) == 344


def test_same_schema(runs):
    texts = []
    for runner in ("subprocess", "docker"):
        schema_dir = _task(runs[runner]["training"], "validate").outputs["schema"]["uri"]
        texts.append(pathlib.Path(schema_dir, "schema.pbtxt").read_text())
    assert texts[0] == texts[1] and "feature" in texts[0]


def test_same_metrics_and_blessing(runs):
    evaluations = [_task(runs[r]["training"], "evaluate") for r in ("subprocess", "docker")]
    sub, dock = (e.outputs["evaluation"]["metadata"] for e in evaluations)
    assert sub.keys() == dock.keys() and "accuracy" in sub
    for key, value in sub.items():
        if isinstance(value, (int, float)) and not math.isnan(value):
            assert dock[key] == pytest.approx(value, abs=METRIC_TOLERANCE), key
    assert evaluations[0].outputs["blessed"] == evaluations[1].outputs["blessed"] is True


def test_same_push_into_each_registry(runs):
    pushes = [_task(runs[r]["training"], "push").outputs for r in ("subprocess", "docker")]
    assert pushes[0]["pushed"] == pushes[1]["pushed"] is True
    assert pushes[0]["version"] == pushes[1]["version"] == "1"
    registry = runs["docker"]["registry"]
    assert pushes[1]["pushed_model"]["metadata"]["registry"].rstrip("/").endswith(
        os.path.basename(registry))
    assert any(files for _, _, files in os.walk(registry))


@pytest.mark.skipif("monitoring" not in catalog.PIPELINES,
                    reason="the monitoring pipeline is not in the catalogue yet")
def test_monitoring_runs_in_the_images_with_the_same_decision(runs):
    sub, dock = (runs[r]["monitoring"] for r in ("subprocess", "docker"))
    assert dock.status == sub.status == "SUCCESS", (dock.error, sub.error)
    decisions = []
    for summary in (sub, dock):
        found = {}
        for task in summary.tasks:
            for name, value in task.outputs.items():
                meta = value.get("metadata", {}) if isinstance(value, dict) else {}
                for key in ("drift_detected", "passed"):
                    if isinstance(meta.get(key), bool):
                        found[f"{task.name}.{name}.{key}"] = meta[key]
        decisions.append(found)
    assert decisions[0] == decisions[1] and decisions[0]


def test_run_summary_names_absolute_paths(runs):
    summary = runs["docker"]["training"]
    assert summary.parameters["data_uri"] == PENGUINS
    json.dumps(summary.to_dict())
