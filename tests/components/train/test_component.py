"""The train shell through ``.python_func`` with real KFP artifact objects."""
import os

import pytest
from kfp.dsl import Artifact, Dataset, Metrics, Model

from kfp_mlops.components._shared import model_io
from kfp_mlops.components.train.component import train


def _artifacts(tmp_path, penguins_dataset, schema_dir):
    return dict(
        dataset=Dataset(name="dataset", uri=penguins_dataset, metadata={}),
        schema=Artifact(name="schema", uri=schema_dir, metadata={}),
        model=Model(name="model", uri=str(tmp_path / "model"), metadata={}),
        metrics=Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={}),
        tensorboard=Artifact(name="tensorboard", uri=str(tmp_path / "tensorboard"), metadata={}),
    )


@pytest.mark.slow
def test_train_component_writes_model_metrics_and_logs(tmp_path, penguins_dataset, schema_for):
    a = _artifacts(tmp_path, penguins_dataset, schema_for("species"))
    # KFP creates empty output directories before the body runs
    os.makedirs(a["model"].path)
    train.python_func(**a, epochs=5, hidden_units=[16], early_stopping_patience=0)

    model = a["model"]
    assert os.path.isfile(os.path.join(model.path, "saved_model.pb"))
    assert model.metadata["framework"] == "tensorflow"
    assert model.metadata["task"] == "classification"
    assert model.metadata["label"] == "species"
    assert model.metadata["features"]["island"] == "categorical"
    assert model.metadata["training_rows"] > 200
    assert model.metadata["content_hash"] == model_io.content_hash(model.path)

    metrics = a["metrics"].metadata
    assert metrics["epochs_run"] == 5.0  # early stopping off: every epoch runs
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0 and metrics["eval_loss"] > 0
    assert {"train_loss", "train_accuracy", "eval_loss", "eval_accuracy"} <= set(metrics)

    tb = a["tensorboard"]
    assert tb.metadata["tensorboard"] is True
    assert os.path.isdir(os.path.join(tb.path, "train"))


def test_train_component_bad_label_leaves_no_model(tmp_path, penguins_dataset, schema_for):
    from kfp_mlops.components.train import core

    a = _artifacts(tmp_path, penguins_dataset, schema_for("species"))
    with pytest.raises(core.TrainError, match="label_column 'nope'"):
        train.python_func(**a, label_column="nope")
    assert not os.path.exists(a["model"].path)
    assert a["model"].metadata == {}


def test_train_component_imports_need_only_kfp():
    import subprocess
    import sys

    code = ("import sys; import kfp_mlops.components.train.component; "
            "heavy = [m for m in ('tensorflow', 'pandas', 'numpy', 'pyarrow', "
            "'tensorflow_data_validation', 'apache_beam') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
