"""trainer_module on the S3 and Cloud Storage servers on loopback."""
import json

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components.train import core
from tests.components.train.test_core import USER_MODULE


@pytest.mark.slow
def test_trainer_module_from_a_store_trains(object_store, tmp_path, penguins_dataset,
                                            schema_for):
    scheme, _, bucket = object_store
    uri = f"{scheme}://{bucket}/code/my_trainer.py"
    io.write_text(uri, USER_MODULE)
    out = tmp_path / "out"
    result = core.train(penguins_dataset, schema_for("species"), str(out / "model"), "",
                        trainer_module=uri, epochs=2)
    assert result.trainer == f"module:{uri}"
    assert json.load(open(out / "seen.json"))["epochs"] == 2  # the module from the store ran


def test_missing_trainer_module_on_a_store_is_named(object_store, tmp_path, penguins_dataset,
                                                    schema_for):
    scheme, _, bucket = object_store
    uri = f"{scheme}://{bucket}/code/nothing.py"
    with pytest.raises(core.TrainerModuleError, match=f"trainer_module '{uri}' cannot be imported"
                                                      r" \(FileNotFoundError"):
        core.train(penguins_dataset, schema_for("species"), str(tmp_path / "m"), "",
                   trainer_module=uri)
    assert not (tmp_path / "m").exists()
