"""The registry_alias KFP shell, called through python_func with a real artifact object."""
import pytest
from kfp import dsl

from kfp_mlops import images
from kfp_mlops.components._shared import io
from kfp_mlops.components.registry_alias.component import registry_alias
from tests.components.registry_alias.test_core import parts, three  # noqa: F401


def test_shell_records_what_it_did(three, tmp_path):  # noqa: F811
    result = dsl.Artifact(name="result", uri=str(tmp_path / "task" / "result"), metadata={})
    out = registry_alias.python_func(result=result, registry_uri=three, model_name="penguins",
                                     action="promote", version="1", alias="staging",
                                     reason="canary", pipeline_run="pipeline-run-7")
    assert (out.moved, out.version) == (True, "1")
    meta = result.metadata
    assert (meta["from"], meta["to"], meta["by"], meta["reason"], meta["operation"]) == (
        "", "1", "pipeline-run-7", "canary", "promote")
    assert io.read_json(str(tmp_path / "task" / "result" / "alias.json"))["to"] == "1"
    with pytest.raises(ValueError, match="reason is required"):
        registry_alias.python_func(result=result, registry_uri=three, model_name="penguins",
                                   action="rollback", reason="")


def test_shell_runs_in_the_slim_image():
    assert registry_alias.component_spec.implementation.container.image == \
        images.component_image("registry_alias")
    assert images.COMPONENT_IMAGES["registry_alias"] == images.PYTHON_SLIM
