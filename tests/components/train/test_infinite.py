"""A split holding +inf or -inf is refused by train, before anything is written (validate
reports it as an anomaly: tests/components/validate/test_infinite.py)."""
import os

import pytest


def test_train_refuses_a_split_with_infinite_values(infinite_dataset, schema_for, tmp_path):
    from kfp_mlops.components.train import core as train

    with pytest.raises(train.TrainError) as err:
        train.train(infinite_dataset, schema_for("species"), str(tmp_path / "model"))
    message = str(err.value)
    assert "feature 'bill_length_mm' has" in message and "infinite value" in message
    assert "train split" in message and infinite_dataset in message
    assert not os.path.exists(tmp_path / "model")
