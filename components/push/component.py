"""Push component: the KFP shell around core.py."""
from typing import List, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Model, Output

from kfp_mlops import images
from kfp_mlops.components._shared.artifact_types import UnmanagedContainerModel, VertexModel


@dsl.component(base_image=images.component_image("push"), install_kfp_package=False)
def push(
    model: Input[Model],
    blessing: Input[Artifact],
    schema: Input[Artifact],
    statistics: Input[Artifact],
    dataset: Input[Dataset],
    pushed_model: Output[Model],
    vertex_model: Output[VertexModel],
    unmanaged_container_model: Output[UnmanagedContainerModel],
    model_card: Output[HTML],
    registry_uri: str,
    model_name: str,
    aliases: List[str] = ["champion"],
    serving_image: str = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-16:latest",
    endpoint_name: str = "",
    traffic_percentage: int = 0,
    machine_type: str = "n1-standard-2",
    pipeline_run: str = "",
) -> NamedTuple("PushOutputs", [("pushed", bool), ("version", str)]):
    """Registers a blessed model with its schema and baseline statistics in the registry.

    Acts only when evaluate blessed the model; otherwise nothing is registered and the
    reasons are recorded on ``pushed_model`` (the task still succeeds). Pushing the same
    model bytes again returns the existing version and only moves the aliases.
    ``champion`` moves only from the champion evaluate compared the model with; when
    another run moved it since, the version is registered without ``champion`` and
    ``champion_reason`` says so.

    Args:
        model: TF SavedModel from train.
        blessing: Blessing from evaluate (``blessing.json`` with ``blessed`` and ``reasons``).
        schema: Schema from validate (``schema.pbtxt``).
        statistics: Statistics from validate (``Split-<split>/FeatureStats.pb``); the train
            split is the baseline monitoring compares serving data with.
        dataset: The training dataset, for lineage (content hash and source).
        pushed_model: Output: ``push.json`` with the decision. Metadata: pushed, version,
            registry, model_name, model_uri (the registered model), version_uri, reasons
            (the first: what became of the champion), aliases, already_registered,
            endpoint, champion (whether the version holds the champion alias), and
            champion_reason.
        vertex_model: Output: ``google.VertexModel`` for Google Cloud's components
            (``ModelDeployOp``, ``ModelBatchPredictOp``, ``ModelUploadOp(parent_model=)``).
            Pushed to Vertex AI: metadata ``resourceName`` = the registered version
            ``projects/<p>/locations/<r>/models/<id>@<version>``, uri its
            ``https://<r>-aiplatform.googleapis.com/v1/...`` address (this is what links
            the Model Registry version to the run in Vertex AI lineage). Otherwise no
            ``resourceName``: metadata ``available`` false and ``reason`` say why.
        unmanaged_container_model: Output: ``google.UnmanagedContainerModel`` (for
            ``ModelBatchPredictOp`` and ``ModelUploadOp``). Pushed: the registered
            SavedModel, copied into this artifact (its uri stays under the pipeline root,
            which the Kubeflow launcher requires), metadata exactly
            ``containerSpec.imageUri`` = ``serving_image`` and ``predictSchemata`` ``{}``.
            Not pushed: metadata ``available`` false and ``reason``.
        model_card: Output: the registered version's model card (HTML; the KFP UI shows
            it), the same page as ``model_card.html`` in the version's folder in the
            registry, beside ``model_card.md``. Not pushed: a page saying why. Metadata:
            ``registry_uri`` (the card in the registry; absent when not pushed).
        registry_uri: A local path or ``file://`` URI (a folder registry), or
            ``vertex://projects/<project>/locations/<region>`` (Vertex AI Model Registry).
        model_name: Registered model name: letters, digits, ``-``, ``_`` and ``.``.
        aliases: Aliases given to the new version; ``champion`` is what evaluate compares
            the next challenger with, and moves only from the version the blessing
            compared with (compare-and-set; on Vertex AI a re-read right before the move).
        serving_image: Serving container of the Vertex AI model (Vertex AI only).
        endpoint_name: Vertex AI endpoint (display name) to deploy to, created if missing;
            empty: register only.
        traffic_percentage: Share of the endpoint's traffic for the new version, 0-100
            (a canary below 100; Vertex AI gives the first model on an endpoint 100).
        machine_type: Machine type of the Vertex AI deployment.
        pipeline_run: Pipeline run name recorded in the lineage; pass
            ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER`` from the pipeline.

    Returns:
        pushed: Whether a version is registered for this model.
        version: The registered version ("" when not pushed).
    """
    from collections import namedtuple

    from kfp_mlops.components._shared import artifact_types, logs
    from kfp_mlops.components.push import core

    logs.setup()
    result = core.push(
        model_dir=model.path,
        blessing_dir=blessing.path,
        schema_dir=schema.path,
        statistics_dir=statistics.path,
        registry_uri=registry_uri,
        model_name=model_name,
        dataset_info=core.dataset_info(dataset.path, dataset.metadata),
        pipeline_run=pipeline_run,
        aliases=aliases,
        serving_image=serving_image,
        endpoint_name=endpoint_name,
        traffic_percentage=traffic_percentage,
        machine_type=machine_type,
        output_dir=pushed_model.path,
        model_card_path=model_card.path,
    )
    if result.model_card:
        model_card.metadata["registry_uri"] = result.model_card["html"]
    pushed_model.metadata.update(result.metadata())
    # "available", not "pushed": the run summary reads a boolean "pushed" as push's decision.
    if not result.pushed:
        why = "not pushed: " + "; ".join(result.reasons)
        artifact_types.mark_empty(vertex_model, {"available": False, "reason": why})
        artifact_types.mark_empty(unmanaged_container_model, {"available": False, "reason": why})
    else:
        if result.vertex_resource_name:
            artifact_types.fill_vertex_model(vertex_model, result.vertex_resource_name)
        else:
            artifact_types.mark_empty(vertex_model, {
                "available": False, "reason": f"registry {registry_uri!r} is not Vertex AI "
                                              "Model Registry; no Vertex AI model to name"})
        # the registered bytes (the registry checked their hash), inside the artifact itself
        artifact_types.fill_unmanaged_container_model(
            unmanaged_container_model, model.path, result.serving_image)
    outputs = namedtuple("PushOutputs", ["pushed", "version"])
    return outputs(result.pushed, result.version)
