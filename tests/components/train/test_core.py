"""train core on the bundled penguins data, with real TensorFlow."""
import json
import os
import textwrap

import numpy as np
import pandas as pd
import pytest

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import model_io
from kfp_mlops.components.train import core
from kfp_mlops.pipelines import launcher_contract

FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
            "sex", "year"]


def _no_partial_dirs(parent) -> None:
    left = [n for n in os.listdir(parent) if ".partial-" in n]
    assert not left, f"half-written outputs left: {left}"


@pytest.mark.slow
def test_species_model_layout_and_metrics(species_model, penguins_dataset):
    result = species_model
    model_dir = result.model_dir
    assert os.path.isfile(os.path.join(model_dir, "saved_model.pb"))
    assert os.path.isdir(os.path.join(model_dir, "variables"))
    assert result.task == "classification"
    assert result.label_vocabulary == ["Adelie", "Chinstrap", "Gentoo"]
    assert {f.name: f.kind for f in result.features} == {
        "island": "categorical", "sex": "categorical", "bill_length_mm": "numeric",
        "bill_depth_mm": "numeric", "flipper_length_mm": "numeric", "body_mass_g": "numeric",
        "year": "numeric"}
    assert result.metrics["eval_accuracy"] >= 0.9
    assert result.metrics["train_accuracy"] >= 0.9
    assert result.metrics["train_loss"] < 0.5
    assert 1 <= result.metrics["epochs_run"] <= 30
    # rows with a label (every penguin has a species)
    assert result.training_rows == ds.num_rows(penguins_dataset, "train")

    meta = json.load(open(os.path.join(model_dir, "assets.extra", "kfp_mlops_model.json")))
    assert meta["framework"] == "tensorflow" and meta["task"] == "classification"
    assert meta["label"] == "species"
    assert meta["label_vocabulary"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert {f["name"] for f in meta["features"]} == set(FEATURES)
    assert meta["training_rows"] == result.training_rows
    # the hash covers everything but the metadata file that records it
    assert meta["content_hash"] == result.content_hash == model_io.content_hash(model_dir)
    assert result.metadata()["content_hash"] == result.content_hash
    assert result.metadata()["tf_version"].startswith("2.16")

    events = [f for _, _, files in os.walk(result.tensorboard_dir) for f in files]
    assert any(f.startswith("events.out.tfevents") for f in events)
    assert sorted(os.listdir(result.tensorboard_dir)) == ["train", "validation"]


@pytest.mark.slow
def test_serving_signature_takes_raw_features_with_missing_values(species_model):
    import tensorflow as tf

    loaded = tf.saved_model.load(species_model.model_dir)
    signature = loaded.signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    assert {k: v.dtype for k, v in specs.items()} == {
        "island": tf.string, "sex": tf.string, "bill_length_mm": tf.float32,
        "bill_depth_mm": tf.float32, "flipper_length_mm": tf.float32,
        "body_mass_g": tf.float32, "year": tf.float32}
    assert all(v.shape.as_list() == [None] for v in specs.values())
    nan = float("nan")
    raw = {  # a Gentoo, a row with everything missing, an unseen island
        "island": tf.constant(["Biscoe", "", "Atlantis"]),
        "sex": tf.constant(["male", "", "female"]),
        "bill_length_mm": tf.constant([50.0, nan, 39.0]),
        "bill_depth_mm": tf.constant([15.0, nan, 18.5]),
        "flipper_length_mm": tf.constant([225.0, nan, 190.0]),
        "body_mass_g": tf.constant([5500.0, nan, 3700.0]),
        "year": tf.constant([2008.0, nan, 2009.0]),
    }
    out = {k: v.numpy() for k, v in signature(**raw).items()}
    assert set(out) == {"probabilities", "class_ids", "classes"}
    assert out["probabilities"].shape == (3, 3)
    assert np.all(np.isfinite(out["probabilities"]))
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert out["classes"][0] == b"Gentoo"
    assert list(out["class_ids"]) == list(np.argmax(out["probabilities"], axis=1))

    # the same rows as a DataFrame with None / NaN give the same outputs through model_io
    frame = pd.DataFrame({
        "island": ["Biscoe", None, "Atlantis"], "sex": ["male", None, "female"],
        "bill_length_mm": [50.0, None, 39.0], "bill_depth_mm": [15.0, np.nan, 18.5],
        "flipper_length_mm": pd.array([225, None, 190], dtype="Int64"),
        "body_mass_g": [5500, np.nan, 3700], "year": [2008, None, 2009]})
    served = model_io.load(species_model.model_dir).predict(frame)
    np.testing.assert_allclose(served["probabilities"], out["probabilities"], rtol=1e-6)
    assert list(served["classes"]) == [c.decode() for c in out["classes"]]


@pytest.mark.slow
def test_same_seed_same_model_other_seed_other_model(tmp_path, penguins_dataset, schema_for):
    def run(name, seed):
        core.train(penguins_dataset, schema_for("species"), str(tmp_path / name), "",
                   epochs=3, hidden_units=[16], seed=seed)
        return model_io.load(str(tmp_path / name)).predict(
            ds.read_pandas(penguins_dataset, "test"))["probabilities"]

    first, again, other = run("a", 7), run("b", 7), run("c", 8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.slow
def test_binary_classification_on_sex(tmp_path, penguins_dataset, schema_for):
    result = core.train(penguins_dataset, schema_for("sex"), str(tmp_path / "m"), "",
                        label_column="sex", epochs=15)
    assert result.task == "classification"
    assert result.label_vocabulary == ["female", "male"]
    assert result.model_metadata()["positive_class"] == "male"
    sexes = ds.read_pandas(penguins_dataset, "train")["sex"]
    assert result.training_rows == int(sexes.notna().sum()) < len(sexes)
    assert "sex" not in {f.name for f in result.features}
    assert "species" in {f.name for f in result.features}
    assert result.metrics["eval_accuracy"] >= 0.75
    out = model_io.load(result.model_dir).predict(ds.read_pandas(penguins_dataset, "test"))
    assert out["probabilities"].shape[1] == 2


@pytest.mark.slow
def test_regression_on_body_mass_is_inferred(tmp_path, penguins_dataset, schema_for):
    result = core.train(penguins_dataset, schema_for("body_mass_g"), str(tmp_path / "m"), "",
                        label_column="body_mass_g", epochs=30)
    assert result.task == "regression"
    assert result.label_vocabulary == []
    # body mass spreads about 800 g; a useful model is well under that
    assert result.metrics["eval_rmse"] < 500
    out = model_io.load(result.model_dir).predict(ds.read_pandas(penguins_dataset, "test"))
    assert set(out) == {"predictions"}
    assert out["predictions"].ndim == 1
    assert 2500 < float(np.mean(out["predictions"])) < 6500


@pytest.mark.slow
def test_categorical_int_feature_is_served_as_string(tmp_path, penguins_dataset, schema_for):
    import tensorflow as tf

    result = core.train(penguins_dataset, schema_for("species", categorical_ints=["year"]),
                        str(tmp_path / "m"), "", epochs=2, hidden_units=[8])
    assert {f.name: f.kind for f in result.features}["year"] == "categorical"
    serving = model_io.load(result.model_dir)
    assert serving.dtypes["year"] == tf.string
    frame = ds.read_pandas(penguins_dataset, "test")
    assert serving.predict(frame)["probabilities"].shape == (len(frame), 3)
    assert result.model_metadata()["hyperparameters"]["hidden_units"] == [8]


def test_schema_feature_kinds():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(textwrap.dedent("""
        feature { name: "label" type: BYTES not_in_environment: "SERVING" }
        feature { name: "city" type: BYTES }
        feature { name: "zip" type: INT int_domain { is_categorical: true } }
        feature { name: "flag" type: INT bool_domain {} }
        feature { name: "count" type: INT }
        feature { name: "price" type: FLOAT }
        feature { name: "id" type: INT }
        feature { name: "debug" type: FLOAT not_in_environment: "SERVING" }
    """), schema_pb2.Schema())
    features = core.schema_features(schema, "label", exclude=["id"])
    assert {f.name: f.kind for f in features} == {
        "city": "categorical", "zip": "categorical", "flag": "categorical",
        "count": "numeric", "price": "numeric"}


def test_infer_task():
    import pyarrow as pa

    assert core.infer_task(pd.Series(["a", "b"]), pa.string()) == "classification"
    assert core.infer_task(pd.Series([True, False]), pa.bool_()) == "classification"
    assert core.infer_task(pd.Series([0, 1, 1, 2]), pa.int64()) == "classification"
    assert core.infer_task(pd.Series(range(100)), pa.int64()) == "regression"
    assert core.infer_task(pd.Series([0.0, 1.0]), pa.float64()) == "regression"
    assert core.infer_task(pd.Series([1.5, 2.5])) == "regression"


def test_label_strings_match_between_training_and_serving():
    values = pd.Series([1.0, None, 3.0])  # an int column with nulls read by pandas
    assert list(model_io.category_strings(values)) == ["1", "", "3"]
    assert list(model_io.category_strings(pd.Series([True, False]))) == ["1", "0"]
    assert model_io.sort_labels(["10", "9", "1"]) == ["1", "9", "10"]
    assert model_io.sort_labels(["b", "a"]) == ["a", "b"]


# --- the user's own module ----------------------------------------------------------------

USER_MODULE = '''
import json
import os

import numpy as np
import tensorflow as tf


def run_fn(args):
    """A prior model: the train split's class frequencies, whatever the features."""
    frame = args.read_pandas("train")
    ids = args.label_values(frame)
    ids = ids[ids >= 0]
    prior = np.bincount(ids, minlength=len(args.label_vocabulary)) / len(ids)
    specs = args.input_signature()
    first = sorted(specs)[0]

    class Prior(tf.Module):
        def __init__(self):
            super().__init__()
            self.prior = tf.Variable(prior.astype("float32"))

    module = Prior()
    vocab = tf.constant(args.label_vocabulary)

    @tf.function(input_signature=[specs])
    def serve(raw):
        n = tf.shape(raw[first])[0]
        p = tf.tile(module.prior[None, :], [n, 1])
        ids = tf.argmax(p, axis=1)
        return {"probabilities": p, "class_ids": ids, "classes": tf.gather(vocab, ids)}

    tf.saved_model.save(module, args.model_dir, signatures={"serving_default": serve})
    features, labels = next(iter(args.make_dataset("train", batch_size=8, shuffle=True)))
    with open(os.path.join(os.path.dirname(args.model_dir), "seen.json"), "w") as f:
        json.dump({"label": args.label, "task": args.task, "vocab": args.label_vocabulary,
                   "features": [ft.name for ft in args.features],
                   "epochs": args.hyperparameters["epochs"],
                   "tensorboard": bool(args.tensorboard_dir),
                   "batch": {k: [str(v.dtype.name), int(v.shape[0])] for k, v in features.items()},
                   "labels": [str(labels.dtype.name), int(labels.shape[0])]}, f)
    return {"epochs_run": 1}
'''


@pytest.mark.slow
def test_user_trainer_module_file(tmp_path, penguins_dataset, schema_for):
    path = tmp_path / "my_trainer.py"
    path.write_text(USER_MODULE)
    out = tmp_path / "out"
    result = core.train(penguins_dataset, schema_for("species"), str(out / "model"),
                        str(out / "tb"), trainer_module=str(path), epochs=4)
    seen = json.load(open(out / "seen.json"))
    assert seen.pop("batch") == {name: ["string" if name in ("island", "sex") else "float32", 8]
                                 for name in FEATURES}
    assert seen.pop("labels") == ["int64", 8]
    assert seen == {"label": "species", "task": "classification",
                    "vocab": ["Adelie", "Chinstrap", "Gentoo"], "features": [
                        "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                        "body_mass_g", "sex", "year"], "epochs": 4, "tensorboard": True}
    assert result.trainer == f"module:{path}"
    assert result.epochs_run == 1
    # a prior model predicts the majority class everywhere: accuracy is the majority share
    train = ds.read_pandas(penguins_dataset, "train")["species"]
    assert result.metrics["train_accuracy"] == pytest.approx(train.value_counts(normalize=True).max())
    meta = model_io.read_metadata(result.model_dir)
    assert meta["trainer"] == f"module:{path}" and meta["task"] == "classification"
    assert os.path.isfile(os.path.join(result.model_dir, "saved_model.pb"))


@pytest.mark.slow
def test_user_trainer_module_by_dotted_name(tmp_path, monkeypatch, penguins_dataset, schema_for):
    package = tmp_path / "acme_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    # its run_fn also reports metrics of its own, two of them not finite numbers
    (package / "prior.py").write_text(USER_MODULE.replace(
        'return {"epochs_run": 1}', 'return {"epochs_run": 1, "train_custom": float("nan"), '
        '"eval_custom": float("inf"), "train_kept": 0.5}'))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = core.train(penguins_dataset, schema_for("species"), str(tmp_path / "m" / "model"),
                        "", trainer_module="acme_models.prior")
    assert result.trainer == "module:acme_models.prior"
    # NaN and Infinity cannot be recorded on Kubeflow: left out; finite ones are kept
    assert result.metrics["train_kept"] == 0.5
    assert "train_custom" not in result.metrics and "eval_custom" not in result.metrics
    assert launcher_contract.check_metadata("train", "metrics", result.metrics) == []
    assert model_io.load(result.model_dir).task == "classification"


BROKEN = {
    "import_error": ("import not_a_real_package_xyz\n", "cannot be imported"),
    "syntax_error": ("def run_fn(args:\n", "cannot be imported"),
    "no_run_fn": ("def train(args):\n    pass\n", "defines no function run_fn"),
    "writes_nothing": ("def run_fn(args):\n    pass\n", "wrote no SavedModel"),
    "raises": ("def run_fn(args):\n    raise RuntimeError('boom')\n", "run_fn failed"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_trainer_module_is_named_and_leaves_no_output(case, tmp_path, penguins_dataset,
                                                             schema_for):
    source, expected = BROKEN[case]
    path = tmp_path / f"{case}.py"
    path.write_text(source)
    out = tmp_path / "out"
    with pytest.raises(core.TrainerModuleError) as info:
        core.train(penguins_dataset, schema_for("species"), str(out / "model"), str(out / "tb"),
                   trainer_module=str(path))
    message = str(info.value)
    assert str(path) in message and expected in message
    assert "run_fn" in message
    assert not (out / "model").exists() and not (out / "tb").exists()
    if out.exists():
        _no_partial_dirs(out)


def test_missing_trainer_module_file(tmp_path, penguins_dataset, schema_for):
    with pytest.raises(core.TrainerModuleError, match=r"'/nowhere/trainer.py' cannot be imported"):
        core.train(penguins_dataset, schema_for("species"), str(tmp_path / "m"), "",
                   trainer_module="/nowhere/trainer.py")
    assert not (tmp_path / "m").exists()


def test_bad_inputs_are_named(tmp_path, penguins_dataset, schema_for):
    with pytest.raises(core.TrainError, match=r"label_column 'tips' is not a column.*species"):
        core.train(penguins_dataset, schema_for("species"), str(tmp_path / "m"), "",
                   label_column="tips")
    with pytest.raises(core.TrainError, match=r"schema '.*nothing'.*schema.pbtxt"):
        core.train(penguins_dataset, str(tmp_path / "nothing"), str(tmp_path / "m"), "")
    with pytest.raises(core.TrainError, match=r"task 'clustering' is not one of"):
        core.train(penguins_dataset, schema_for("species"), str(tmp_path / "m"), "",
                   task="clustering")
    with pytest.raises(core.TrainError, match=r"epochs=0"):
        core.train(penguins_dataset, schema_for("species"), str(tmp_path / "m"), "", epochs=0)
    extra = schema_for("species")
    text = open(os.path.join(extra, "schema.pbtxt")).read()
    bad = tmp_path / "bad_schema"
    bad.mkdir()
    (bad / "schema.pbtxt").write_text(text + '\nfeature { name: "wingspan" type: FLOAT }\n')
    with pytest.raises(core.TrainError, match=r"schema features \['wingspan'\] are not columns"):
        core.train(penguins_dataset, str(bad), str(tmp_path / "m"), "")
    assert not (tmp_path / "m").exists()
    _no_partial_dirs(tmp_path)


@pytest.mark.slow
def test_unusual_column_names_get_safe_serving_keys(tmp_path, penguins_dataset):
    import pyarrow.parquet as pq

    from kfp_mlops.components._shared import io

    from tests.components.schemas import write_schema

    renames = {"bill_length_mm": "bill length (mm)", "island": "1st island"}
    data = tmp_path / "data"
    for split in ds.SPLITS:
        table = ds.read_table(penguins_dataset, split)
        table = table.rename_columns([renames.get(n, n) for n in table.column_names])
        (data / split).mkdir(parents=True)
        pq.write_table(table, ds.split_path(str(data), split))
    io.write_json(str(data / "dataset.json"), ds.read_info(penguins_dataset))
    schema = write_schema(str(data), "species", str(tmp_path / "schema"))
    result = core.train(str(data), schema, str(tmp_path / "m"), "", epochs=2, hidden_units=[8])
    meta = model_io.read_metadata(result.model_dir)
    inputs = {f["name"]: f["input"] for f in meta["features"]}
    assert inputs["bill length (mm)"] == "bill_length__mm_"
    assert inputs["1st island"] == "f_1st_island"
    assert inputs["sex"] == "sex"
    serving = model_io.load(result.model_dir)
    assert set(serving.signature.structured_input_signature[1]) == set(inputs.values())
    frame = ds.read_pandas(str(data), "test")
    assert serving.predict(frame)["probabilities"].shape == (len(frame), 3)
