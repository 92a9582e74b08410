"""The skew / drift threshold default is defined once (``statistics.DEFAULT_THRESHOLD``, Vertex AI
Model Monitoring's 0.3). A component's or pipeline's signature must spell it as a literal:
KFP runs a lightweight component from its function's source alone (the ``ephemeral_component.py``
of every component.yaml's command), where a module-level name is undefined. So this test is what
keeps every such literal equal to the one definition."""
import inspect

import pytest

from kfp_mlops.components._shared.statistics import DEFAULT_THRESHOLD
from kfp_mlops.components.monitor.component import monitor
from kfp_mlops.components.validate.component import validate
from kfp_mlops.components.vertex_monitoring.component import vertex_monitoring
from kfp_mlops.pipelines import data_validation, monitoring

THRESHOLDS = {"skew_threshold", "drift_threshold"}


def _function(task):
    return getattr(task, "python_func", None) or getattr(task, "pipeline_func")


@pytest.mark.parametrize("task", [monitor, validate, vertex_monitoring,
                                  data_validation.data_validation,
                                  monitoring.monitoring],
                         ids=lambda t: t.name)
def test_every_threshold_default_is_the_one_definition(task):
    parameters = inspect.signature(_function(task)).parameters
    found = {n: p.default for n, p in parameters.items() if n in THRESHOLDS}
    assert found, f"{task.name} has no threshold parameter"
    assert all(v == DEFAULT_THRESHOLD for v in found.values()), found


def test_every_min_slice_rows_default_is_the_one_definition():
    """``min_slice_rows`` likewise: evaluate's slices.DEFAULT_MIN_SLICE_ROWS, spelt as a
    literal in evaluate's and the training pipeline's signatures."""
    from kfp_mlops.components.evaluate import core as evaluate_core
    from kfp_mlops.components.evaluate.component import evaluate
    from kfp_mlops.components.evaluate.slices import DEFAULT_MIN_SLICE_ROWS
    from kfp_mlops.pipelines import training

    for fn in (_function(evaluate), _function(training.training), evaluate_core.evaluate):
        assert inspect.signature(fn).parameters["min_slice_rows"].default == \
            DEFAULT_MIN_SLICE_ROWS, fn
