"""Fixtures every component test folder may use: schemas as validate writes them for the
penguins dataset, the built-in species model trained once per session, and the penguins with
infinite values (which validate reports, and train and evaluate refuse)."""
import csv

import pytest

from tests.components.schemas import write_schema


@pytest.fixture(scope="session")
def schema_for(tmp_path_factory, penguins_dataset):
    """schema_for(label) -> a schema directory for the penguins dataset with that label."""
    made = {}

    def make(label: str = "species", **kwargs) -> str:
        key = (label, tuple(sorted((k, tuple(v)) for k, v in kwargs.items())))
        if key not in made:
            out = str(tmp_path_factory.mktemp("schema"))
            made[key] = write_schema(penguins_dataset, label, out, **kwargs)
        return made[key]

    return make


@pytest.fixture(scope="session")
def species_model(tmp_path_factory, penguins_dataset, schema_for):
    """The built-in model trained on species with the component defaults."""
    from kfp_mlops.components.train import core

    root = tmp_path_factory.mktemp("species")
    result = core.train(penguins_dataset, schema_for("species"), str(root / "model"),
                        str(root / "tensorboard"))
    return result


def _penguins_with(penguins_csv, path, column="bill_length_mm", rows=(5,), value="inf"):
    """The penguins CSV with ``value`` written into ``column`` of the given data rows."""
    with open(penguins_csv, newline="") as f:
        table = list(csv.reader(f))
    index = table[0].index(column)
    for r in rows:
        table[1 + r][index] = value
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(table)
    return str(path)


@pytest.fixture(scope="session")
def infinite_dataset(tmp_path_factory, penguins_csv):
    """The penguins with +inf in bill_length_mm every 20th row (18 rows), ingested."""
    from kfp_mlops.components.ingest import core as ingest

    root = tmp_path_factory.mktemp("inf")
    source = _penguins_with(penguins_csv, root / "penguins.csv", rows=range(0, 344, 20))
    out = str(root / "dataset")
    ingest.ingest(source, out, label_column="species")
    return out
