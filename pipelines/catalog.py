"""Every pipeline of the library, by the name the CLI and compiled files use."""
import importlib
from typing import Callable, Dict, List

# name -> "module:function"; imported on demand so one pipeline's components never slow
# down or break another's.
PIPELINES: Dict[str, str] = {
    "data-validation": "kfp_mlops.pipelines.data_validation:data_validation",
    "training": "kfp_mlops.pipelines.training:training",
    "monitoring": "kfp_mlops.pipelines.monitoring:monitoring",
    "performance-monitoring":
        "kfp_mlops.pipelines.performance_monitoring:performance_monitoring",
    "batch-prediction": "kfp_mlops.pipelines.batch_prediction:batch_prediction",
}
# name -> "module:function" building the pipeline with compile-time options (task resources)
BUILDERS: Dict[str, str] = {
    "training": "kfp_mlops.pipelines.training:build",
}


def names() -> List[str]:
    return sorted(PIPELINES)


def _load(reference: str) -> Callable:
    module, function = reference.split(":")
    return getattr(importlib.import_module(module), function)


def get(name: str, train_resources=None) -> Callable:
    """The ``@dsl.pipeline`` function called ``name``.

    Args:
        name: A pipeline name from :data:`PIPELINES`.
        train_resources: ``kfp_mlops.pipelines.training.Resources`` for the train task, for
            the pipelines that train; None keeps the defaults.
    """
    if name not in PIPELINES:
        from kfp_mlops.pipelines.suggest import did_you_mean

        raise KeyError(f"unknown pipeline {name!r}{did_you_mean(name, names())}; pipelines "
                       f"are: {', '.join(names())}")
    if train_resources is not None and name in BUILDERS:
        return _load(BUILDERS[name])(train_resources)
    return _load(PIPELINES[name])
