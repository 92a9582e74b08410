"""The training pipeline with kfp.local on data with a date and a timestamp column (ISO text
in a CSV): ingest -> validate -> train -> evaluate -> push, the dates used by the model."""
import pytest

from kfp_mlops.components._shared import model_io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.pipelines import local
from tests.components.schemas import seasonal_csv

pytestmark = pytest.mark.slow


def test_training_run_with_date_columns_goes_through_to_push(tmp_path):
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kfp_mlops.components._shared.schema import read_schema

    registry = str(tmp_path / "registry")
    summary = local.run("training", {"data_uri": seasonal_csv(tmp_path / "sales.csv", rows=2000),
                                     "label_column": "y", "model_name": "sales",
                                     "registry_uri": registry, "epochs": 10,
                                     "hidden_units": [16]}, str(tmp_path / "run"))
    assert summary.status == "SUCCESS", local.format_summary(summary)
    tasks = {t.name: t for t in summary.tasks}
    assert list(tasks) == ["ingest", "validate", "train", "evaluate", "push", "track"]
    assert tasks["validate"].outputs["passed"] is True
    assert tasks["push"].outputs["pushed"] is True

    version = reg.open_registry(registry).resolve("sales")
    schema = read_schema(version.schema_path)
    domains = {f.name: f.time_domain.integer_format for f in schema.feature
               if f.HasField("time_domain")}
    assert domains == {"day": schema_pb2.TimeDomain.UNIX_DAYS,
                       "at": schema_pb2.TimeDomain.UNIX_SECONDS}
    kinds = {f["name"]: f["kind"] for f in model_io.read_metadata(version.model_dir)["features"]}
    assert kinds == {"day": "date", "at": "timestamp", "x": "numeric", "shop": "categorical"}
    # evaluate scored the test split through the serving signature, dates as read from Parquet
    assert tasks["evaluate"].outputs["evaluation"]["metadata"]["rmse"] < 3.0
