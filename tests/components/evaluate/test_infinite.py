"""A split holding +inf or -inf is refused by evaluate, before anything is written (validate
reports it as an anomaly: tests/components/validate/test_infinite.py)."""
import os

import pytest

from kfp_mlops.components._shared import dataset as ds


def test_evaluate_refuses_a_split_with_infinite_values(infinite_dataset, species_model, tmp_path):
    from kfp_mlops.components.evaluate import core as evaluate

    split = next(s for s in ("test", "eval") if ds.infinite_counts(infinite_dataset, s))
    with pytest.raises(evaluate.EvaluateError) as err:
        evaluate.evaluate(infinite_dataset, species_model.model_dir,
                          str(tmp_path / "blessing"), split=split)
    assert "feature 'bill_length_mm' has" in str(err.value) and f"{split} split" in str(err.value)
    assert not os.path.exists(tmp_path / "blessing")
