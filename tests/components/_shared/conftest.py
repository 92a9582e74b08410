"""Small but real artifacts for the registry tests: a TF SavedModel, a schema, statistics."""
import json
import os
import shutil

import pytest

from tests.components.schemas import save_tiny_model


def model_variant(base: str, path: str, tag: str) -> str:
    """A copy of ``base`` whose bytes differ (its kfp-mlops model info names ``tag``)."""
    shutil.copytree(base, path)
    os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
    with open(os.path.join(path, "assets.extra", "kfp_mlops_model.json"), "w") as f:
        json.dump({"task": "classification", "features": ["x"], "tag": tag}, f)
    return path


def write_schema(path: str) -> str:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    feature = schema.feature.add(name="x", type=schema_pb2.FLOAT)
    feature.presence.min_fraction = 1.0
    os.makedirs(path)
    with open(os.path.join(path, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(schema))
    return path


def write_statistics(path: str, splits=("train", "eval")) -> str:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for i, split in enumerate(splits):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        dataset = stats.datasets.add(name=split, num_examples=10 + i)
        feature = dataset.features.add()
        feature.path.step.append("x")
        feature.num_stats.mean = 1.5 + i
        os.makedirs(os.path.join(path, f"Split-{split}"))
        with open(os.path.join(path, f"Split-{split}", "FeatureStats.pb"), "wb") as f:
            f.write(stats.SerializeToString())
    return path


@pytest.fixture(scope="session")
def parts(tmp_path_factory):
    """Four SavedModels with different bytes, a schema folder and a statistics folder."""
    root = tmp_path_factory.mktemp("registry_parts")
    base = save_tiny_model(str(root / "base"))
    return {
        "model_a": model_variant(base, str(root / "model_a"), "a"),
        "model_b": model_variant(base, str(root / "model_b"), "b"),
        "model_c": model_variant(base, str(root / "model_c"), "c"),
        "model_d": model_variant(base, str(root / "model_d"), "d"),
        "schema": write_schema(str(root / "schema")),
        "statistics": write_statistics(str(root / "statistics")),
    }
