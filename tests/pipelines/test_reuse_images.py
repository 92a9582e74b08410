"""Reusing our components beside other images, as the README says: a task's image is
replaced with kfp's ``PipelineTask.set_container_image`` (kfp/dsl/pipeline_task.py, in the
kfp we lock), and the other tasks keep ours."""
import yaml
from kfp import compiler, dsl


def test_set_container_image_replaces_one_task_s_image(tmp_path):
    from kfp_mlops.components.ingest.component import ingest
    from kfp_mlops.components.validate.component import validate

    @dsl.pipeline(name="my-checks")
    def my_checks(data_uri: str):
        data = ingest(data_uri=data_uri, label_column="label")
        validate(dataset=data.outputs["dataset"], label_column="label").set_container_image(
            "registry.example/my-team/kfp-mlops-validate:0.1.0")

    path = tmp_path / "my-checks.yaml"
    compiler.Compiler().compile(my_checks, str(path))
    executors = yaml.safe_load(path.read_text())["deploymentSpec"]["executors"]
    images = {name: spec["container"]["image"] for name, spec in executors.items()}
    assert images["exec-validate"] == \
        "registry.example/my-team/kfp-mlops-validate:0.1.0"
    assert images["exec-ingest"].startswith("localhost/kfp-mlops/")
