"""A registry holding the species model trained once per session (tests/components/conftest.py)
with its real evaluation on the test split, and predictions of the bundled serving batch."""
import os
import shutil

import pytest

from tests.conftest import ROOT
from tests.support.predictions import write_predictions

DATA = ROOT / "pipelines" / "data"
SERVING_CSV = str(DATA / "penguins_serving.csv")
GOOD_LABELS = str(DATA / "penguins_serving_labels.csv")
SHIFTED_LABELS = str(DATA / "penguins_serving_labels_shifted.csv")


@pytest.fixture(scope="session")
def performance_registry(tmp_path_factory, penguins_dataset, schema_for, species_model):
    """``{"registry", "predictions", "evaluation"}``: penguins version 1 (the species model,
    registered with evaluate's evaluation of it) and its predictions of the serving batch."""
    from kfp_mlops.components._shared import registry as reg
    from kfp_mlops.components.evaluate import core as evaluate

    root = tmp_path_factory.mktemp("performance")
    result = evaluate.evaluate(penguins_dataset, species_model.model_dir)
    statistics = root / "statistics" / "Split-train"
    statistics.mkdir(parents=True)
    (statistics / "FeatureStats.pb").write_bytes(b"")   # performance reads no statistics
    version = reg.LocalRegistry(str(root / "registry")).register(
        "penguins", species_model.model_dir, schema_for("species"), str(root / "statistics"),
        evaluation=result.evaluation_json(), lineage={"model_info": {"label": "species"}})
    predictions = write_predictions(species_model.model_dir, SERVING_CSV,
                                    str(root / "predictions"), "penguins", version.version,
                                    version.model_hash)
    return {"registry": str(root / "registry"), "predictions": predictions,
            "evaluation": result.evaluation_json()}


@pytest.fixture
def registry(performance_registry, tmp_path):
    """A private copy of the registry a test may add monitoring entries to."""
    copy = str(tmp_path / "registry")
    shutil.copytree(performance_registry["registry"], copy)
    return copy


@pytest.fixture
def outputs(tmp_path):
    def make(prefix="out"):
        return {"report_dir": str(tmp_path / prefix / "performance_report"),
                "report_path": str(tmp_path / prefix / "report.html")}
    return make


def labels_file(tmp_path, rows, name="labels.csv", header="input_row,species"):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def mass_registry(tmp_path_factory, penguins_dataset, schema_for):
    """A regression model of body_mass_g registered with its evaluation, its predictions of
    penguins.csv (the model reads species, which the serving batch lacks), and the file's own
    body_mass_g as the labels that arrived."""
    import pandas as pd

    from kfp_mlops.components._shared import registry as reg
    from kfp_mlops.components.evaluate import core as evaluate
    from kfp_mlops.components.train import core as train

    root = tmp_path_factory.mktemp("mass_performance")
    model = train.train(penguins_dataset, schema_for("body_mass_g"), str(root / "model"), "",
                        label_column="body_mass_g", epochs=30)
    result = evaluate.evaluate(penguins_dataset, model.model_dir)
    statistics = root / "statistics" / "Split-train"
    statistics.mkdir(parents=True)
    (statistics / "FeatureStats.pb").write_bytes(b"")
    version = reg.LocalRegistry(str(root / "registry")).register(
        "mass", model.model_dir, schema_for("body_mass_g"), str(root / "statistics"),
        evaluation=result.evaluation_json(), lineage={})
    predictions = write_predictions(model.model_dir, str(DATA / "penguins.csv"),
                                    str(root / "predictions"), "mass", version.version,
                                    version.model_hash)
    labels = str(root / "labels.csv")
    served = pd.read_csv(DATA / "penguins.csv")
    pd.DataFrame({"input_row": range(len(served)),
                  "body_mass_g": served["body_mass_g"]}).to_csv(labels, index=False)
    return {"registry": str(root / "registry"), "predictions": predictions, "labels": labels,
            "evaluation": result.evaluation_json()}
