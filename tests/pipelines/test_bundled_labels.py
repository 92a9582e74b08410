"""The bundled serving labels are what pipelines/data/make_batches.py makes, byte for byte."""
import csv
import filecmp
import importlib.util

from tests.conftest import ROOT

DATA = ROOT / "pipelines" / "data"


def _make_batches():
    spec = importlib.util.spec_from_file_location("make_batches", DATA / "make_batches.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bundled_batches_and_labels_are_regenerated_identically(tmp_path):
    assert _make_batches().main(["--output-dir", str(tmp_path)]) == 0
    for name in ("penguins_serving.csv", "penguins_drifted.csv", "penguins_serving_labels.csv",
                 "penguins_serving_labels_shifted.csv"):
        assert filecmp.cmp(DATA / name, tmp_path / name, shallow=False), name


def test_labels_are_the_true_species_of_each_serving_row_and_a_share_moved():
    source = list(csv.DictReader(open(DATA / "penguins.csv")))
    serving = list(csv.DictReader(open(DATA / "penguins_serving.csv")))
    labels = list(csv.DictReader(open(DATA / "penguins_serving_labels.csv")))
    shifted = list(csv.DictReader(open(DATA / "penguins_serving_labels_shifted.csv")))
    assert [r["input_row"] for r in labels] == [str(i) for i in range(len(serving))]
    features = [k for k in source[0] if k != "species"]
    species = {}
    for r in source:
        species.setdefault(tuple(r[k] for k in features), set()).add(r["species"])
    for row, label in zip(serving, labels):
        assert label["species"] in species[tuple(row[k] for k in features)]
    moved = sum(a["species"] != b["species"] for a, b in zip(labels, shifted))
    assert moved == round(0.3 * len(labels))
