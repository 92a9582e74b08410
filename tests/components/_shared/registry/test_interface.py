"""Both back ends implement the one interface (``registry/interface.py``), with the
interface's parameters, so a caller written against :class:`Registry` works on either."""
import inspect

import pytest

from kfp_mlops.components._shared import registry as reg

BACK_ENDS = [reg.FolderRegistry, reg.VertexRegistry]
METHODS = ["resolve", "versions", "set_alias", "compare_and_set_alias", "register",
           "monitoring_folder", "record_monitoring", "monitoring_history", "audit_log", "model_names"]


def test_the_interface_is_what_callers_use():
    assert sorted(reg.Registry.__abstractmethods__) == sorted(
        ["resolve", "versions", "set_alias", "compare_and_set_alias", "register",
         "monitoring_folder", "audit_log", "model_names"])
    with pytest.raises(TypeError, match="abstract"):
        reg.Registry()


@pytest.mark.parametrize("back_end", BACK_ENDS, ids=lambda c: c.__name__)
def test_back_ends_take_every_parameter_of_the_interface(back_end):
    assert issubclass(back_end, reg.Registry) and not back_end.__abstractmethods__
    for name in METHODS:
        want = inspect.signature(getattr(reg.Registry, name)).parameters
        have = inspect.signature(getattr(back_end, name)).parameters
        assert list(have)[:len(want)] == list(want), (back_end.__name__, name)
        for param in want.values():
            assert have[param.name].default == param.default, (back_end.__name__, name)
        # anything a back end adds is optional (VertexRegistry.register's serving_image)
        extra = [p for p in have.values() if p.name not in want]
        assert all(p.default is not inspect.Parameter.empty for p in extra), extra


def test_open_registry_gives_each_back_end(tmp_path):
    assert isinstance(reg.open_registry(str(tmp_path)), reg.FolderRegistry)
    assert isinstance(reg.open_registry("vertex://projects/p/locations/r"), reg.VertexRegistry)


def test_the_package_keeps_its_module_top_light():
    """stdlib (and our io) at import time; google.cloud.aiplatform inside methods only."""
    import subprocess
    import sys

    code = ("import sys; from kfp_mlops.components._shared import registry; "
            "print(sorted(m for m in sys.modules if m.startswith(('google.cloud.', "
            "'google.api_core', 'kfp.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
