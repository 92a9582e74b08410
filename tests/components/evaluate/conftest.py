"""Fixtures for the evaluate tests: schemas as validate writes them, and trained models.

(The schema helper is the same as in the train tests' conftest; test folders do not share
modules.)
"""
import os

import pytest


def write_schema(dataset_dir: str, label: str, out_dir: str, categorical_ints=(),
                 skip=()) -> str:
    """Writes ``<out_dir>/schema.pbtxt`` the way TFDV infers it from the dataset's columns:
    strings BYTES, integers INT, floats FLOAT; the label kept out of SERVING."""
    import pyarrow as pa
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kfp_mlops.components._shared import dataset as ds

    schema = schema_pb2.Schema()
    schema.default_environment.extend(["TRAINING", "SERVING"])
    for field in ds.arrow_schema(dataset_dir):
        if field.name in skip:
            continue
        feature = schema.feature.add()
        feature.name = field.name
        if pa.types.is_string(field.type):
            feature.type = schema_pb2.BYTES
        elif pa.types.is_integer(field.type):
            feature.type = schema_pb2.INT
            if field.name in categorical_ints:
                feature.int_domain.is_categorical = True
        else:
            feature.type = schema_pb2.FLOAT
        if field.name == label:
            feature.not_in_environment.append("SERVING")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(schema))
    return out_dir


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
