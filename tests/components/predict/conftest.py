"""A folder registry holding real trained models for the predict tests.

The species classifier is tests/components/conftest.py's ``species_model`` (trained once per
session); a small regression model of body_mass_g is trained here. The registered schema is
validate's format (tests/components/schemas.py); the baseline statistics are a placeholder
file, since scoring never reads them.
"""
import os

import pytest

from tests.conftest import ROOT

SERVING_CSV = str(ROOT / "pipelines" / "data" / "penguins_serving.csv")


def _statistics(path: str) -> str:
    from kfp_mlops.components._shared import registry as reg

    full = os.path.join(path, reg.BASELINE_STATISTICS)
    os.makedirs(os.path.dirname(full))
    with open(full, "wb") as f:
        f.write(b"placeholder: predict does not read the baseline statistics")
    return path


@pytest.fixture(scope="session")
def mass_model(tmp_path_factory, penguins_dataset, schema_for):
    """A regression model of body_mass_g (a few epochs: only its contract matters here)."""
    from kfp_mlops.components.train import core

    root = tmp_path_factory.mktemp("predict_mass")
    return core.train(penguins_dataset, schema_for("body_mass_g"), str(root / "model"), "",
                      label_column="body_mass_g", epochs=3, hidden_units=[8])


@pytest.fixture(scope="session")
def registry(tmp_path_factory, species_model, schema_for):
    """A local registry: ``penguins`` version 1 (champion), the species classifier."""
    from kfp_mlops.components._shared import registry as reg

    root = tmp_path_factory.mktemp("predict_registry")
    stats = _statistics(str(root / "statistics"))
    reg.LocalRegistry(str(root / "registry")).register(
        "penguins", species_model.model_dir, schema_for("species"), stats, evaluation={},
        lineage={"model_info": {"label": "species"}})
    return str(root / "registry")


@pytest.fixture(scope="session")
def mass_registry(tmp_path_factory, mass_model, schema_for):
    """A local registry: ``mass`` version 1 (champion), the body_mass_g regressor."""
    from kfp_mlops.components._shared import registry as reg

    root = tmp_path_factory.mktemp("predict_mass_registry")
    stats = _statistics(str(root / "statistics"))
    reg.LocalRegistry(str(root / "registry")).register(
        "mass", mass_model.model_dir, schema_for("body_mass_g"), stats, evaluation={},
        lineage={"model_info": {"label": "body_mass_g"}})
    return str(root / "registry")
