"""Registry alias component: the KFP shell around core.py."""
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("registry_alias"), install_kfp_package=False)
def registry_alias(
    result: Output[Artifact],
    registry_uri: str,
    model_name: str,
    action: str,
    reason: str,
    version: str = "",
    alias: str = "champion",
    endpoint_name: str = "",
    pipeline_run: str = "",
) -> NamedTuple("RegistryAliasOutputs", [("moved", bool), ("version", str)]):
    """Promotes a registered version to an alias, or rolls an alias back, with an audit trail.

    promote moves ``alias`` to ``version``; rollback moves it back to the version it named
    before its current one was set (read from the registry's audit log; a second rollback
    goes further back, versions that no longer exist are skipped). Either is a
    compare-and-set against what the alias named when read, and is kept in the audit log
    with ``pipeline_run`` as who and ``reason`` as why. The task fails, moving nothing, when
    there is no such version, nothing to roll back to, or the alias moved meanwhile.

    Args:
        result: Output: ``alias.json``, what was done. Metadata: model_name, alias,
            operation, from, to, moved, by, reason, version_uri, registry, endpoint,
            traffic_split, skipped.
        registry_uri: A folder registry (local path, ``gs://B/F``, ``s3://B/F``) or
            ``vertex://projects/<project>/locations/<region>``.
        model_name: The registered model.
        action: ``promote`` or ``rollback``.
        reason: Why the alias moves (required; kept in the audit log).
        version: promote: the version (a number, an alias or ``latest``); rollback: empty.
        alias: The alias to move.
        endpoint_name: rollback on Vertex AI: the endpoint whose traffic then goes all to
            the version rolled back to (it must be deployed there); empty: none.
        pipeline_run: Who moves the alias, for the audit log; pass
            ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER`` from the pipeline.

    Returns:
        moved: Whether the alias moved (false when promote found it there already).
        version: The version the alias names now.
    """
    from collections import namedtuple

    from kfp_mlops.components._shared import logs
    from kfp_mlops.components.registry_alias import core

    logs.setup()
    done = core.move_alias(registry_uri=registry_uri, model_name=model_name, action=action,
                           reason=reason, version=version, alias=alias,
                           endpoint_name=endpoint_name, by=pipeline_run,
                           output_dir=result.path)
    result.metadata.update({k: "" if v is None else v for k, v in done.items()})
    outputs = namedtuple("RegistryAliasOutputs", ["moved", "version"])
    return outputs(done["moved"], done["to"])
