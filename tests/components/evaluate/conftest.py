"""Fixtures for the evaluate tests: more trained models (schema_for and species_model are in
tests/components/conftest.py)."""
import pytest


@pytest.fixture(scope="session")
def weak_species_model(tmp_path_factory, penguins_dataset, schema_for):
    """A barely trained species model: one epoch at a tiny learning rate."""
    from kfp_mlops.components.train import core

    root = tmp_path_factory.mktemp("weak")
    return core.train(penguins_dataset, schema_for("species"), str(root / "model"), "",
                      epochs=1, learning_rate=1e-5, hidden_units=[4], seed=3)


@pytest.fixture(scope="session")
def sex_model(tmp_path_factory, penguins_dataset, schema_for):
    """A binary model of sex (rows without sex are dropped)."""
    from kfp_mlops.components.train import core

    root = tmp_path_factory.mktemp("sex")
    return core.train(penguins_dataset, schema_for("sex"), str(root / "model"), "",
                      label_column="sex", epochs=15)


@pytest.fixture(scope="session")
def mass_model(tmp_path_factory, penguins_dataset, schema_for):
    """A regression model of body_mass_g."""
    from kfp_mlops.components.train import core

    root = tmp_path_factory.mktemp("mass")
    return core.train(penguins_dataset, schema_for("body_mass_g"), str(root / "model"), "",
                      label_column="body_mass_g")
