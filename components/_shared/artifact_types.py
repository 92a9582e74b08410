"""Google Cloud's artifact types, spoken without depending on google-cloud-pipeline-components.

GCPC's components (``ModelDeployOp``, ``ModelBatchPredictOp``, ``ModelUploadOp``) take
``google.VertexModel`` and ``google.UnmanagedContainerModel`` artifacts. KFP checks an
artifact connection by schema title and version only, so a class of ours with the same
``schema_title`` / ``schema_version`` plugs into them; the Python class is never compared.
The contracts below are GCPC's, in kubeflow/pipelines
``components/google-cloud/google_cloud_pipeline_components/``:

* ``types/artifact_types.py``: ``VertexModel`` is ``google.VertexModel@0.0.1`` with metadata
  ``{"resourceName": "projects/P/locations/L/models/M"}``; ``VertexModel.create`` takes the
  uri ``https://{service-endpoint}/v1/{resourceName}``. ``UnmanagedContainerModel`` is
  ``google.UnmanagedContainerModel@0.0.1`` with metadata ``{"predictSchemata": {...},
  "containerSpec": {"imageUri": ..., ...}}`` (``UnmanagedContainerModel.create``); its uri is
  the model's artifact folder.
* ``container/v1/model/upload_model/remote_runner.py``, ``upload_model``: the VertexModel it
  outputs has ``resourceName`` = the uploaded model *with its version*
  (``model += "@" + modelVersionId``) and uri ``https://{location}-aiplatform.googleapis.com/v1/``
  + resourceName. We fill ours the same way.
* ``v1/endpoint/deploy_model/component.py``, ``model_deploy``: ``model: Input[VertexModel]``;
  the payload's ``deployed_model.model`` is ``model.metadata['resourceName']`` -- nothing
  else of the artifact is read.
* ``v1/batch_predict_job/component.py``, ``model_batch_predict``: ``model:
  Input[VertexModel]`` (``metadata['resourceName']``) or ``unmanaged_container_model:
  Input[UnmanagedContainerModel]``; ``container/v1/batch_prediction_job/remote_runner.py``,
  ``insert_artifact_into_payload``, copies the unmanaged model's *whole* metadata
  (camelCase -> snake_case) into the job's ``unmanaged_container_model`` and its uri into
  ``artifact_uri``. Any other metadata key would become an unknown field of the
  BatchPredictionJob request and fail it, so a pushed UnmanagedContainerModel carries
  exactly ``containerSpec`` and ``predictSchemata`` (falsy values are dropped first by
  ``gcp_launcher/utils/json_util.py``, ``recursive_remove_empty``, so ``{}`` is harmless).
* ``container/v1/model/upload_model/remote_runner.py``,
  ``append_unmanaged_model_artifact_into_payload``: ModelUploadOp reads the same two keys
  and the uri (``artifact_uri``).

Lineage: these are the "standard Vertex ML Metadata artifact types ... for the purpose of
tracking resources" (Vertex AI docs, pipelines/artifact-types); a ``google.VertexModel``
output whose ``resourceName`` names the uploaded version is what ties that Model Registry
version to the pipeline run's lineage graph (Vertex AI docs, pipelines/lineage: artifacts
"mapped to fully qualified names ... generally by using Google Cloud Pipeline Components").

Metadata never holds ``None`` (the Kubeflow launcher refuses null metadata values) nor NaN.
"""
from typing import Any, Dict, Optional

from kfp import dsl

#: GCPC ``types/artifact_types.py``: ``_RESOURCE_NAME_KEY``.
RESOURCE_NAME = "resourceName"
CONTAINER_SPEC = "containerSpec"
PREDICT_SCHEMATA = "predictSchemata"


class VertexModel(dsl.Artifact):
    """A Vertex AI Model (version) resource: GCPC's ``google.VertexModel``."""

    schema_title = "google.VertexModel"
    schema_version = "0.0.1"


class UnmanagedContainerModel(dsl.Artifact):
    """A model folder plus the container that serves it: GCPC's
    ``google.UnmanagedContainerModel``."""

    schema_title = "google.UnmanagedContainerModel"
    schema_version = "0.0.1"


class VertexBatchPredictionJob(dsl.Artifact):
    """A Vertex AI BatchPredictionJob: GCPC's ``google.VertexBatchPredictionJob``
    (``types/artifact_types.py``: metadata ``resourceName``, ``gcsOutputDirectory``,
    ``bigqueryOutputDataset``, ``bigqueryOutputTable``; what ``ModelBatchPredictOp``
    outputs)."""

    schema_title = "google.VertexBatchPredictionJob"
    schema_version = "0.0.1"


def vertex_model_uri(resource_name: str) -> str:
    """``https://{location}-aiplatform.googleapis.com/v1/{resource_name}``, as GCPC writes it.

    Raises:
        ValueError: ``resource_name`` is not ``projects/P/locations/L/models/M[@V]``.
    """
    parts = resource_name.split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[2] != "locations" \
            or parts[4] != "models" or not all(parts):
        raise ValueError(f"resource_name {resource_name!r} is not a Vertex AI model name "
                         "projects/<project>/locations/<location>/models/<id>[@<version>]")
    return f"https://{parts[3]}-aiplatform.googleapis.com/v1/{resource_name}"


def fill_vertex_model(artifact: dsl.Artifact, resource_name: str) -> None:
    """Gives ``artifact`` the uri and metadata of GCPC's ``VertexModel.create``."""
    artifact.uri = vertex_model_uri(resource_name)
    artifact.metadata.clear()
    artifact.metadata[RESOURCE_NAME] = resource_name


def fill_unmanaged_container_model(artifact: dsl.Artifact, model_dir: str, image_uri: str,
                                   predict_schemata: Optional[Dict[str, str]] = None) -> None:
    """Gives ``artifact`` the content and metadata of GCPC's ``UnmanagedContainerModel``.

    The SavedModel is copied into the artifact's own folder (``artifact.path``) and the uri
    KFP assigned it is left alone, so it stays under the pipeline root: the Kubeflow
    launcher uploads every output artifact from its local path to the key its uri names in
    the pipeline root's bucket, and fails the task when the uri is outside that bucket
    (kubeflow/pipelines ``backend/src/v2/component/launcher_v2.go``,
    ``uploadOutputArtifacts``: ``mergeRuntimeArtifacts`` takes the uri a component wrote,
    then ``bucketConfig.KeyFromURI`` refuses one in another bucket). Pointing the uri at a
    registry elsewhere would work on Vertex AI and break the same spec on Kubeflow.

    Args:
        artifact: The output artifact.
        model_dir: A local SavedModel folder (the bytes that were registered).
        image_uri: The serving container (``containerSpec.imageUri``).
        predict_schemata: ``instanceSchemaUri`` / ``parametersSchemaUri`` /
            ``predictionSchemaUri``; none given: ``{}``.
    """
    import os
    import shutil

    if not os.path.isfile(os.path.join(model_dir or "", "saved_model.pb")) or not image_uri:
        raise ValueError("an UnmanagedContainerModel needs a SavedModel folder and the serving "
                         f"image; got model_dir={model_dir!r}, image_uri={image_uri!r}")
    shutil.copytree(model_dir, artifact.path, dirs_exist_ok=True)
    artifact.metadata.clear()
    artifact.metadata[PREDICT_SCHEMATA] = dict(predict_schemata or {})
    artifact.metadata[CONTAINER_SPEC] = {"imageUri": image_uri}


def mark_empty(artifact: dsl.Artifact, metadata: Dict[str, Any]) -> None:
    """Records why an output that KFP requires holds no resource (uri left as assigned)."""
    bad = [k for k, v in metadata.items() if v is None]
    if bad:
        raise ValueError(f"metadata values must not be None (the launcher refuses null): {bad}")
    artifact.metadata.clear()
    artifact.metadata.update(metadata)
