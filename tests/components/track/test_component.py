"""The track KFP shell, called through python_func with real artifact objects."""
from kfp import dsl

from kfp_mlops import images
from kfp_mlops.components._shared import io
from kfp_mlops.components.track import core
from kfp_mlops.components.track.component import track
from tests.components.track.test_core import write_run


def test_shell_logs_kfp_metrics_and_records_the_run_in_mlflow(tmp_path):
    root = write_run(tmp_path / "run", blessed=False, accuracy=0.4)
    metrics = dsl.Metrics(name="metrics", uri=str(tmp_path / "task" / "metrics"), metadata={})
    tracking = dsl.Artifact(name="tracking", uri=str(tmp_path / "task" / "tracking"),
                            metadata={})
    uri = core.default_tracking_uri(str(tmp_path / "outputs"))
    track.python_func(
        pushed_model=dsl.Model(name="pushed_model", uri=str(root / "pushed"), metadata={}),
        blessing=dsl.Artifact(name="blessing", uri=str(root / "blessing"), metadata={}),
        dataset=dsl.Dataset(name="dataset", uri=str(root / "dataset"), metadata={}),
        schema=dsl.Artifact(name="schema", uri=str(root / "schema"), metadata={}),
        model=dsl.Model(name="model", uri=str(root / "model"), metadata={}),
        report=dsl.HTML(name="report", uri=str(root / "report.html"), metadata={}),
        metrics=metrics, tracking=tracking, model_name="penguins",
        registry_uri=str(root / "registry"), tracking_uri=uri, experiment="",
        pipeline_run="training-7")
    # the KFP compare view reads the Metrics artifact's metadata
    assert metrics.metadata["accuracy"] == 0.4
    # ... overall only: the per-slice ones are in the tracking store
    assert not [name for name in metrics.metadata if "/" in name]
    assert core.read_runs(uri, "penguins")[0]["metrics"]["slice/island/Biscoe/accuracy"] == 1.0
    meta = tracking.metadata
    assert meta["experiment"] == "penguins" and meta["run_name"] == "training-7"
    assert meta["tracking_uri"] == uri and meta["mlflow_run_id"]
    # no boolean decision keys: the run summary's decisions stay evaluate's and push's
    assert not {"blessed", "pushed", "passed"} & set(meta)
    assert io.read_json(str(tmp_path / "task" / "tracking" / core.TRACKING_FILE)) == meta
    (run,) = core.read_runs(uri)
    assert run["run_id"] == meta["mlflow_run_id"] and run["tags"]["blessed"] == "false"
    assert run["tags"]["pipeline_run"] == "training-7"


def test_the_component_runs_in_the_image_that_holds_mlflow():
    assert track.component_spec.implementation.container.image == \
        images.uri(images.PYTHON)
