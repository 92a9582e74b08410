"""Small but real input artifacts for push: a TF SavedModel, blessings, schema, statistics,
and a dataset folder (only dataset.json matters to push)."""
import json
import os
import shutil

import pytest

from tests.components.schemas import save_tiny_model


def write_blessing(path: str, blessed: bool, reasons, champion_version=None,
                   accuracy=None) -> str:
    """A blessing as evaluate writes it; ``champion_version``: the champion it compared
    with (None: there was none)."""
    os.makedirs(path)
    metrics = {"accuracy": accuracy if accuracy is not None else 0.93 if blessed else 0.41}
    champion = None if champion_version is None else {
        "version": str(champion_version), "model_dir": f"registry/v{champion_version}",
        "metrics": {"accuracy": 0.9}, "rows": 10}
    with open(os.path.join(path, "blessing.json"), "w") as f:
        json.dump({"blessed": blessed, "reasons": reasons, "metrics": metrics,
                   "max_regression": {"accuracy": 0.0}, "champion": champion}, f)
    with open(os.path.join(path, "evaluation.json"), "w") as f:
        json.dump({"metrics": metrics, "slices": {"island=Biscoe": {"accuracy": 0.9}}}, f)
    return path


def write_schema(path: str) -> str:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    schema.feature.add(name="x", type=schema_pb2.FLOAT)
    os.makedirs(path)
    with open(os.path.join(path, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(schema))
    return path


def write_statistics(path: str) -> str:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for split in ("train", "eval"):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        dataset = stats.datasets.add(name=split, num_examples=10)
        dataset.features.add().path.step.append("x")
        os.makedirs(os.path.join(path, f"Split-{split}"))
        with open(os.path.join(path, f"Split-{split}", "FeatureStats.pb"), "wb") as f:
            f.write(stats.SerializeToString())
    return path


def write_dataset(path: str) -> str:
    os.makedirs(path)
    with open(os.path.join(path, "dataset.json"), "w") as f:
        json.dump({"content_hash": "c0ffee" * 10, "source": "gs://bucket/penguins.csv",
                   "splits": {"train": 8, "eval": 1, "test": 1}}, f)
    return path


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    """Folders as upstream components write them; copy before changing any."""
    root = tmp_path_factory.mktemp("push_inputs")
    model = save_tiny_model(str(root / "model"), {"task": "classification", "label": "species",
                                                  "features": ["x"]})
    model_b = str(root / "model_b")
    shutil.copytree(model, model_b)
    with open(os.path.join(model_b, "assets.extra", "kfp_mlops_model.json"), "w") as f:
        json.dump({"task": "classification", "label": "species", "features": ["x", "y"]}, f)
    return {
        "model": model,
        "model_b": model_b,
        "blessed": write_blessing(str(root / "blessed"), True,
                                  ["accuracy 0.930 >= threshold 0.800", "no champion yet"]),
        "not_blessed": write_blessing(str(root / "not_blessed"), False,
                                      ["accuracy 0.410 < threshold 0.800"]),
        # blessed against champion 1 / 2
        "blessed_v1": write_blessing(str(root / "blessed_v1"), True,
                                     ["passed champion comparison: accuracy vs champion 1"], 1),
        "blessed_v2": write_blessing(str(root / "blessed_v2"), True,
                                     ["passed champion comparison: accuracy vs champion 2"], 2),
        "schema": write_schema(str(root / "schema")),
        "statistics": write_statistics(str(root / "statistics")),
        "dataset": write_dataset(str(root / "dataset")),
    }
