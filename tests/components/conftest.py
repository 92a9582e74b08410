"""Fixtures every component test folder may use: schemas as validate writes them for the
penguins dataset, and the built-in species model trained once per session."""
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
