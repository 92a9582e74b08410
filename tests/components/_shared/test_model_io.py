"""Loading a model folder kept on the S3 and Cloud Storage servers on loopback."""
import numpy as np
import pytest

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import io, model_io


@pytest.mark.slow
def test_a_model_on_a_store_loads_and_predicts_as_the_local_one(object_store, species_model,
                                                                 penguins_dataset):
    scheme, _, bucket = object_store
    uri = f"{scheme}://{bucket}/models/species"
    io.put_dir(species_model.model_dir, uri)
    local = model_io.load(species_model.model_dir)
    remote = model_io.load(uri)  # the temporary copy is gone once loaded
    assert remote.model_dir == uri and remote.metadata == local.metadata
    test = ds.read_pandas(penguins_dataset, "test")
    np.testing.assert_allclose(remote.predict(test)["probabilities"],
                               local.predict(test)["probabilities"], rtol=1e-6)
    with pytest.raises(model_io.ModelError, match=f"model '{uri}-missing' holds no saved_model"):
        model_io.load(uri + "-missing")
