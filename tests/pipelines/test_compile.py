"""Every pipeline compiles; images follow --image-registry/--image-tag; output is stable."""
import re

import pytest
import yaml

from kfp_mlops import images
from kfp_mlops.pipelines import catalog, cli, compiling


def _images(spec: dict):
    return {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    paths = compiling.compile_pipelines(str(out), registry="europe-docker.pkg.dev/proj/repo",
                                        tag="abc1234")
    return {p.rsplit("/", 1)[1][:-len(".yaml")]: p for p in paths}


def test_every_pipeline_compiles_to_its_name(compiled):
    assert sorted(compiled) == catalog.names()
    for name, path in compiled.items():
        spec = yaml.safe_load(open(path))
        assert spec["pipelineInfo"]["name"] == name


def test_images_follow_registry_and_tag(compiled):
    for path in compiled.values():
        spec = yaml.safe_load(open(path))
        for image in _images(spec):
            assert re.fullmatch(r"europe-docker\.pkg\.dev/proj/repo/kfp-mlops-python(-slim)?:abc1234",
                                image), image
        text = open(path).read()
        assert "latest" not in re.findall(r"image: (\S+)", text)
        assert images.DEFAULT_REGISTRY not in text


def test_default_images_are_versioned(tmp_path):
    path = compiling.compile_pipeline("data-validation", str(tmp_path))
    for image in _images(yaml.safe_load(open(path))):
        assert image.startswith(images.DEFAULT_REGISTRY + "/")
        assert image.endswith(":" + images.DEFAULT_TAG)


def test_recompiling_is_byte_identical(tmp_path):
    first = compiling.compile_pipelines(str(tmp_path / "a"), registry="r.example/p", tag="v1")
    second = compiling.compile_pipelines(str(tmp_path / "b"), registry="r.example/p", tag="v1")
    for a, b in zip(sorted(first), sorted(second)):
        assert open(a, "rb").read() == open(b, "rb").read()


def test_tasks_and_their_inputs_are_wired(compiled):
    spec = yaml.safe_load(open(compiled["data-validation"]))
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"ingest", "validate"}
    wired = tasks["validate"]["inputs"]["artifacts"]["dataset"]["taskOutputArtifact"]
    assert wired == {"outputArtifactKey": "dataset", "producerTask": "ingest"}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert "defaultValue" not in params["data_uri"]  # required
    assert params["skew_threshold"]["defaultValue"] == 0.3


@pytest.mark.parametrize("registry,tag,message", [
    ("Bad Registry", "v1", "not a valid registry"),
    ("r.example/p", "latest", "not 'latest'"),
    ("r.example/p", "v 1", "expected a fixed tag"),
])
def test_bad_image_targets(registry, tag, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        compiling.compile_pipelines(str(tmp_path), registry=registry, tag=tag)
    assert list(tmp_path.iterdir()) == []


def test_foreign_image_is_refused():
    text = "deploymentSpec:\n  executors:\n    e:\n      container:\n        image: python:3.11\n"
    with pytest.raises(ValueError, match="not a kfp-mlops image"):
        compiling.retarget_images(text, "r.example/p", "v1")


def test_cli_compile(tmp_path, capsys):
    code = cli.main(["compile", "--output-dir", str(tmp_path), "--image-registry", "r.example/p",
                     "--image-tag", "v2"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n}.yaml" for n in catalog.names()]
    assert "compiled data-validation" in capsys.readouterr().out


def test_training_pipeline_wiring(compiled):
    spec = yaml.safe_load(open(compiled["training"]))
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"ingest", "validate", "train", "evaluate", "push", "track"}

    def producer(task, artifact):
        return tasks[task]["inputs"]["artifacts"][artifact]["taskOutputArtifact"]["producerTask"]

    assert producer("train", "dataset") == "ingest" and producer("train", "schema") == "validate"
    assert producer("evaluate", "model") == "train"
    assert {a: producer("push", a) for a in ("model", "blessing", "schema", "statistics", "dataset")} \
        == {"model": "train", "blessing": "evaluate", "schema": "validate",
            "statistics": "validate", "dataset": "ingest"}
    # track runs after push on every run, blessed or not, and reads every task's record
    assert {a: producer("track", a) for a in ("pushed_model", "blessing", "dataset", "schema",
                                              "model", "report")} \
        == {"pushed_model": "push", "blessing": "evaluate", "dataset": "ingest",
            "schema": "validate", "model": "train", "report": "evaluate"}
    track_params = tasks["track"]["inputs"]["parameters"]
    assert track_params["pipeline_run"]["runtimeValue"]["constant"] == "{{$.pipeline_job_name}}"
    assert {p: track_params[p]["componentInputParameter"] for p in
            ("tracking_uri", "experiment", "model_name", "registry_uri")} == {
        "tracking_uri": "tracking_uri", "experiment": "experiment",
        "model_name": "model_name", "registry_uri": "registry_uri"}
    assert "enableCache" not in tasks["track"].get("cachingOptions", {})
    push_params = tasks["push"]["inputs"]["parameters"]
    assert push_params["pipeline_run"]["runtimeValue"]["constant"] == "{{$.pipeline_job_name}}"
    assert push_params["registry_uri"]["componentInputParameter"] == "registry_uri"
    params = spec["root"]["inputDefinitions"]["parameters"]
    for required in ("data_uri", "label_column", "model_name", "registry_uri"):
        assert "defaultValue" not in params[required], required
    assert params["epochs"]["defaultValue"] == 30
    assert params["aliases"]["defaultValue"] == ["champion"]
    assert params["tracking_uri"]["defaultValue"] == "" and params["experiment"]["defaultValue"] == ""
    assert "resources" not in spec["deploymentSpec"]["executors"]["exec-train"]["container"]


def test_train_resources_set_at_compile_time(tmp_path):
    code = cli.main(["compile", "--output-dir", str(tmp_path), "--pipeline", "training",
                     "--train-cpu", "8", "--train-memory", "32G",
                     "--train-accelerator", "NVIDIA_TESLA_T4", "--train-accelerator-count", "2"])
    assert code == 0
    spec = yaml.safe_load(open(tmp_path / "training.yaml"))
    executors = spec["deploymentSpec"]["executors"]
    resources = executors["exec-train"]["container"]["resources"]
    assert resources["resourceCpuLimit"] == "8" and resources["resourceMemoryLimit"] == "32G"
    assert resources["accelerator"]["resourceType"] == "NVIDIA_TESLA_T4"
    assert resources["accelerator"]["resourceCount"] == "2"
    for name, executor in executors.items():
        if name != "exec-train":
            assert "resources" not in executor["container"], name


def test_only_the_named_pipelines_in_their_order(tmp_path):
    paths = compiling.compile_pipelines(str(tmp_path), names=["monitoring", "data-validation"])
    assert paths == [str(tmp_path / "monitoring.yaml"), str(tmp_path / "data-validation.yaml")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data-validation.yaml",
                                                          "monitoring.yaml"]


def test_an_unknown_name_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(KeyError, match="unknown pipeline 'no-such'"):
        compiling.compile_pipelines(str(tmp_path), names=["data-validation", "no-such"])
    assert list(tmp_path.iterdir()) == []
