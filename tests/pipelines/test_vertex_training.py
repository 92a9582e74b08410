"""`kfp-mlops compile --train-workers ...`: the train task as a Vertex AI custom job."""
import json
import os

import pytest
import yaml

from kfp_mlops.pipelines import cli, vertex_training

OPTIONS = ["--train-workers", "4", "--train-machine-type", "n1-standard-8",
           "--train-accelerator", "NVIDIA_TESLA_T4:1"]


def _compile(tmp_path, *extra):
    out = tmp_path / "out"
    assert cli.main(["compile", "--output-dir", str(out), "--pipeline", "training",
                     *extra]) == 0
    return (out / "training.yaml").read_text()


def test_compile_places_train_on_a_custom_job_of_n_machines(tmp_path):
    registry = ["--image-registry", "europe-docker.pkg.dev/p/r", "--image-tag", "v1"]
    spec = yaml.safe_load(_compile(tmp_path, *OPTIONS, *registry))
    plain = yaml.safe_load(_compile(tmp_path, *registry))
    train_ref = plain["root"]["dag"]["tasks"]["train"]["componentRef"]["name"]
    train_executor = plain["components"][train_ref]["executorLabel"]
    container = plain["deploymentSpec"]["executors"][train_executor]["container"]
    image = "europe-docker.pkg.dev/p/r/kfp-mlops-python:v1"
    assert container["image"] == image
    args = [vertex_training.JSON_ESCAPED_EXECUTOR_INPUT if a == "{{$}}" else a
            for a in container["args"]]
    chief = {
        "machine_spec": {"machine_type": "n1-standard-8",
                         "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 1},
        "replica_count": 1,
        "container_spec": {"image_uri": image, "command": container["command"],
                           "args": args, "env": []},
        "disk_spec": {"boot_disk_type": "pd-ssd", "boot_disk_size_gb": 100},
    }
    assert args == ["--executor_input", "{{$.json_escape[1]}}", "--function_to_execute",
                    "train"]
    assert vertex_training.payload_worker_pool_specs(spec) == [
        chief, dict(chief, replica_count=3)]

    # the task runs GCPC's launcher, with train's inputs and outputs
    task = spec["root"]["dag"]["tasks"]["train"]
    executor = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    launcher = spec["deploymentSpec"]["executors"][executor]["container"]
    assert launcher["image"] == vertex_training.LAUNCHER_IMAGE
    assert launcher["command"] == ["python3", "-u", "-m", vertex_training.LAUNCHER_MODULE]
    assert launcher["args"][:2] == ["--type", "CustomJob"]
    outputs = spec["components"][task["componentRef"]["name"]]["outputDefinitions"]
    assert {"model", "metrics", "tensorboard"} <= set(outputs["artifacts"])
    assert "gcp_resources" in outputs["parameters"]
    assert task["inputs"]["artifacts"] == plain["root"]["dag"]["tasks"]["train"]["inputs"][
        "artifacts"]
    assert spec["root"]["dag"]["tasks"]["evaluate"]["inputs"]["artifacts"]["model"] == {
        "taskOutputArtifact": {"outputArtifactKey": "model", "producerTask": "train"}}


def test_one_worker_has_only_the_chief_pool(tmp_path):
    spec = yaml.safe_load(_compile(tmp_path, "--train-workers", "1"))
    (pool,) = vertex_training.payload_worker_pool_specs(spec)
    assert pool["replica_count"] == 1 and pool["machine_spec"] == {
        "machine_type": "n1-standard-4", "accelerator_type": "ACCELERATOR_TYPE_UNSPECIFIED",
        "accelerator_count": 0}


def test_without_the_options_the_spec_is_unchanged(tmp_path):
    from kfp_mlops.pipelines import catalog, compiling

    text = _compile(tmp_path)
    assert text == compiling.compile_to_text(catalog.get("training"))
    assert vertex_training.LAUNCHER_IMAGE not in text and "worker_pool_specs" not in text


@pytest.mark.parametrize("extra, message", [
    (["--train-workers", "0"], "--train-workers 0: expected a whole number >= 1"),
    (["--train-workers", "2", "--train-accelerator", "NVIDIA_TESLA_T4:x"],
     "--train-accelerator NVIDIA_TESLA_T4:x: expected TYPE or TYPE:COUNT"),
    (["--train-workers", "2", "--train-accelerator", "nvidia.com/gpu"],
     "--train-accelerator 'nvidia.com/gpu' is not a Vertex AI accelerator type"),
    (["--train-workers", "2", "--train-accelerator", "NVIDIA_TESLA_T4:0"],
     "expected TYPE or TYPE:COUNT with COUNT a whole number >= 1"),
    (["--train-machine-type", "n1 standard"], "--train-machine-type 'n1 standard'"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    assert cli.main(["compile", "--output-dir", str(out), "--pipeline", "training",
                     *extra]) != 0
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_accelerator_count_without_type_is_refused():
    with pytest.raises(ValueError, match="--train-accelerator-count 2: needs --train-accelerator"):
        vertex_training.from_options(2, "n1-standard-8", "", 2)
