"""The component catalogue: components/<name>/component.yaml is current, loads with kfp
alone, and composes into a pipeline."""
import os
import pathlib

import pytest
import yaml
from kfp import compiler, components, dsl

from kfp_mlops import images
from kfp_mlops.pipelines import compiling, components_catalog
from tests.pipelines.cloud_helpers import run_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components"


@pytest.fixture(scope="module")
def fresh():
    return components_catalog.component_specs()


def test_every_component_is_catalogued():
    """Named here, not found again the way names() finds them: a component whose folder lost
    its component.py, or a helper folder taken for a component, fails."""
    assert components_catalog.names() == ["alert", "evaluate", "ingest", "monitor",
                                          "performance", "predict", "push", "registry_alias",
                                          "retrain", "track", "train", "validate",
                                          "vertex_monitoring"]


def test_committed_specs_equal_a_fresh_compile(fresh):
    stale = components_catalog.stale(str(COMPONENTS), fresh)
    assert not stale, ("component specs are stale or missing: "
                       f"{', '.join(os.path.relpath(p, ROOT) for p in stale)}; "
                       "run `kfp-mlops components` and commit the result")


def test_specs_name_the_default_images(fresh):
    for name, text in fresh.items():
        spec = yaml.safe_load(text)
        found = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
        assert found == {images.component_image(name)}, name


def test_every_spec_loads_with_kfp_alone():
    for name in components_catalog.names():
        component = components.load_component_from_file(
            str(COMPONENTS / name / components_catalog.SPEC_FILE))
        assert component.name == name.replace("_", "-")
        assert component.description, f"{name} has no description"


def test_loaded_specs_compose_into_a_pipeline(tmp_path):
    ingest = components.load_component_from_file(str(COMPONENTS / "ingest" / "component.yaml"))
    validate = components.load_component_from_file(
        str(COMPONENTS / "validate" / "component.yaml"))

    @dsl.pipeline(name="reused-validation")
    def reused(data_uri: str, label_column: str = "species"):
        dataset = ingest(data_uri=data_uri, label_column=label_column).outputs["dataset"]
        validate(dataset=dataset, label_column=label_column)

    path = tmp_path / "reused.yaml"
    compiler.Compiler().compile(reused, str(path))
    spec = yaml.safe_load(path.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["validate"]["inputs"]["artifacts"]["dataset"]["taskOutputArtifact"] == {
        "outputArtifactKey": "dataset", "producerTask": "ingest"}
    # a pipeline made of catalogue specs retargets like our own pipelines
    retargeted = compiling.retarget_images(path.read_text(), "europe-docker.pkg.dev/p/r", "v9")
    assert "localhost/" not in retargeted and "kfp-mlops-python:v9" in retargeted


def test_components_command_writes_then_checks(tmp_path, capsys):
    out = tmp_path / "components"
    assert run_cli(["components", "--output-root", str(out)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    out.mkdir()
    assert run_cli(["components", "--output-root", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "run `kfp-mlops components`" in err and str(out / "ingest" / "component.yaml") in err
    assert list(out.iterdir()) == []  # --check writes nothing

    assert run_cli(["components", "--output-root", str(out)]) == 0
    for name in components_catalog.names():
        assert (out / name / "component.yaml").read_text() == \
            (COMPONENTS / name / "component.yaml").read_text()
    assert run_cli(["components", "--output-root", str(out), "--check"]) == 0

    spec = out / "ingest" / "component.yaml"
    spec.write_text(spec.read_text().replace("Reads tabular data", "Reads data"))
    assert run_cli(["components", "--output-root", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert str(spec) in err and str(out / "validate" / "component.yaml") not in err
    assert "Reads data" in spec.read_text()  # untouched by --check
    assert run_cli(["components", "--output-root", str(out)]) == 0
    assert "wrote " + str(spec) in capsys.readouterr().out
    assert run_cli(["components", "--output-root", str(out), "--check"]) == 0


def test_unknown_component():
    with pytest.raises(KeyError, match="unknown component 'nope'"):
        components_catalog.get("nope")


def test_catalogue_for_another_registry(tmp_path):
    """A team that pushed our images to its own registry gets a catalogue naming them."""
    out = tmp_path / "catalogue"  # created by the command
    assert run_cli(["components", "--output-root", str(out), "--image-registry",
                    "europe-docker.pkg.dev/team/images", "--image-tag", "abc1234"]) == 0
    for name in components_catalog.names():
        spec = yaml.safe_load((out / name / "component.yaml").read_text())
        found = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
        assert found == {images.uri(images.COMPONENT_IMAGES[name],
                                    "europe-docker.pkg.dev/team/images", "abc1234")}, name
    assert run_cli(["components", "--output-root", str(out), "--check", "--image-tag", "v1"]) == 2
