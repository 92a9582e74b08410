"""The serving contract: raw inputs of dates and timestamps; loading a model folder kept on
the S3 and Cloud Storage servers on loopback."""
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


def test_dates_and_timestamps_become_days_and_seconds_since_the_epoch():
    import datetime

    import pandas as pd

    days = model_io.time_values(pd.Series([datetime.date(2021, 3, 4), None,
                                           datetime.date(1969, 12, 31)]), model_io.DATE)
    np.testing.assert_array_equal(days, [18690.0, np.nan, -1.0])
    assert days.dtype == np.float64
    np.testing.assert_array_equal(
        model_io.time_values(["2021-03-04", "", "not a date", "2021-03-04T23:59:59Z"],
                             model_io.DATE), [18690.0, np.nan, np.nan, 18690.0])
    seconds = model_io.time_values(
        ["2021-03-04T10:00:00+02:00", "1970-01-01 00:00:01", None], model_io.TIMESTAMP)
    np.testing.assert_array_equal(seconds, [1614844800.0, 1.0, np.nan])
    aware = pd.Series(pd.to_datetime(["2021-03-04 08:00"])).dt.tz_localize("UTC")
    assert model_io.time_values(aware, model_io.TIMESTAMP).tolist() == [1614844800.0]
    # numbers are taken as already counted
    np.testing.assert_array_equal(model_io.time_values([18690, None], model_io.DATE),
                                  [18690.0, np.nan])
    inputs = model_io.raw_inputs(pd.DataFrame({"d": ["2021-03-04"]}), {"d": model_io.DATE})
    assert inputs["d"].tolist() == [18690.0]
