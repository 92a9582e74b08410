"""Fixtures shared by every test: the bundled data and datasets made from it by ingest."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PENGUINS_CSV = str(ROOT / "pipelines" / "data" / "penguins.csv")


@pytest.fixture(scope="session")
def penguins_csv() -> str:
    """The bundled Palmer penguins CSV: 344 rows, numeric and categorical, with missing values."""
    assert os.path.exists(PENGUINS_CSV)
    return PENGUINS_CSV


@pytest.fixture(scope="session")
def penguins_dataset(tmp_path_factory, penguins_csv) -> str:
    """A dataset artifact directory made by ingest from the penguins CSV (label: species)."""
    from kfp_mlops.components.ingest import core

    out = str(tmp_path_factory.mktemp("penguins") / "dataset")
    core.ingest(penguins_csv, out, label_column="species")
    return out
