"""The TFDV schema as a file: where it is, reading it, and its TRAINING/SERVING environments.

One reader for every component that takes a schema: ``validate`` (a curated schema),
``train`` (validate's schema artifact) and ``monitor`` (the schema a registry version holds).
A schema is given as its ``schema.pbtxt`` file or as a folder holding one (a schema
artifact), on a local path, a ``gs://`` or an ``s3://`` URI, or a Vertex AI ``/gcs/`` path
(read as ``gs://``), all through :mod:`kfp_mlops.components._shared.io`.

Pure Python; tensorflow_metadata and protobuf are imported inside functions (``train``
imports this module and must not load TFDV).
"""
from __future__ import annotations

SCHEMA_FILE = "schema.pbtxt"
#: TFDV's environments: training data carries the label, serving data does not.
TRAINING = "TRAINING"
SERVING = "SERVING"


class SchemaError(ValueError):
    """The schema location is malformed, or the file there is not a text Schema proto."""


class SchemaNotFoundError(SchemaError, FileNotFoundError):
    """No schema at the location, or the location cannot be read."""


def schema_file(path: str, what: str = "schema") -> str:
    """The ``schema.pbtxt`` that ``path`` names: the file itself, or the one inside a folder.

    ``path`` becomes the address the I/O layer uses (:func:`io.canonical_uri`: ``/gcs/``
    paths as ``gs://``, relative paths made absolute). ``what`` names the input in errors.

    Raises:
        SchemaError: ``path`` is empty or has a scheme the I/O layer does not read.
        SchemaNotFoundError: the store cannot be reached.
    """
    from kfp_mlops.components._shared import io

    try:
        uri = io.canonical_uri(path)
    except ValueError as e:
        raise SchemaError(f"{what} {path!r}: {e}") from e
    try:
        return io.join(uri, SCHEMA_FILE) if io.isdir(uri) else uri
    except OSError as e:  # an unreachable store or a refused credential
        raise SchemaNotFoundError(f"{what} {path!r} cannot be read: {e}") from e


def read_schema(path: str, what: str = "schema"):
    """Reads the ``schema_pb2.Schema`` at ``path`` (a file, or a folder holding one).

    Args:
        path: a ``schema.pbtxt`` or a folder holding one; local, ``gs://``, ``s3://``, ``/gcs/``.
        what: how errors name the input (``"curated schema"``, ``"the registered schema"``).

    Raises:
        SchemaNotFoundError: nothing there, or it cannot be read (also a FileNotFoundError).
        SchemaError: the location is malformed, or the file is not a text Schema proto.
    """
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kfp_mlops.components._shared import io

    file = schema_file(path, what)
    expected = f"expected a {SCHEMA_FILE} file or a folder holding one"
    try:
        data = io.read_bytes(file)
    except FileNotFoundError:
        if file != io.canonical_uri(path):  # a folder
            raise SchemaNotFoundError(f"{what} {path!r} is a folder without a {SCHEMA_FILE} "
                                      f"({expected})") from None
        raise SchemaNotFoundError(f"{what} {path!r} does not exist ({expected})") from None
    except OSError as e:  # a folder without one, a refused credential
        raise SchemaNotFoundError(f"{what} {path!r} cannot be read as {file!r} ({expected}): "
                                  f"{e}") from e
    try:
        return text_format.Parse(data.decode("utf-8"), schema_pb2.Schema())
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise SchemaError(f"{what} {file!r} is not a tensorflow_metadata Schema in text "
                          f"format: {e}") from e


def add_environments(schema, label_column: str = ""):
    """Gives ``schema`` (in place) the TRAINING and SERVING default environments and keeps
    ``label_column`` out of SERVING, unless the label already names its environments.

    So serving data without its label is not an anomaly. Returns ``schema``.
    """
    for env in (TRAINING, SERVING):
        if env not in schema.default_environment:
            schema.default_environment.append(env)
    for feature in schema.feature:
        if (feature.name == label_column and not feature.in_environment
                and SERVING not in feature.not_in_environment):
            feature.not_in_environment.append(SERVING)
    return schema


#: Lifecycle stages that keep a feature out of a model. schema.proto's ``LifecycleStage``:
#: "PLANNED, ALPHA, DISABLED, and DEBUG are treated as DEPRECATED" (not validated), and
#: ``DISABLED`` is the "generic indication that feature is disabled / excluded from models";
#: tfx_bsl leaves the same stages out of a model's inputs (tfx_bsl/tfxio/
#: tensor_representation_util.py, ``_ShouldIncludeFeature`` and
#: ``_DISQUALIFYING_LIFECYCLE_STAGES``).
KEPT_OUT_STAGES = ("PLANNED", "ALPHA", "DEPRECATED", "DEBUG_ONLY", "DISABLED",
                   "VALIDATION_DERIVED")
#: The annotation tag of a decision kfp-mlops recorded on a feature (its comment says why).
DECISION_TAG = "kfp-mlops:kept-out"


def is_kept_out(feature) -> bool:
    """Whether a schema feature is kept out of models (deprecated or a stage above)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    return bool(feature.deprecated) or \
        schema_pb2.LifecycleStage.Name(feature.lifecycle_stage) in KEPT_OUT_STAGES


def keep_out(feature, reason: str) -> None:
    """Marks ``feature`` ``lifecycle_stage: DISABLED`` (in place), recording ``reason`` in its
    annotation (tag :data:`DECISION_TAG`, one comment) for the components that read it."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    feature.lifecycle_stage = schema_pb2.DISABLED
    _clear_decision(feature)
    feature.annotation.tag.append(DECISION_TAG)
    feature.annotation.comment.append(f"{DECISION_TAG}: {reason}")


def keep_in(feature) -> None:
    """Marks ``feature`` ``lifecycle_stage: PRODUCTION`` (in place): used by models, and no
    longer open to a kept-out decision when the schema is used again as a curated one."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    feature.lifecycle_stage = schema_pb2.PRODUCTION
    feature.deprecated = False
    _clear_decision(feature)


def _clear_decision(feature) -> None:
    prefix = f"{DECISION_TAG}: "
    tags = [t for t in feature.annotation.tag if t != DECISION_TAG]
    comments = [c for c in feature.annotation.comment if not c.startswith(prefix)]
    del feature.annotation.tag[:]
    feature.annotation.tag.extend(tags)
    del feature.annotation.comment[:]
    feature.annotation.comment.extend(comments)
    if not tags and not comments and not feature.annotation.extra_metadata:
        feature.ClearField("annotation")


def kept_out_reason(feature) -> str:
    """Why the schema keeps ``feature`` out of models: the reason :func:`keep_out` recorded,
    else its lifecycle stage; ``""`` when it does not keep it out."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not is_kept_out(feature):
        return ""
    prefix = f"{DECISION_TAG}: "
    for comment in feature.annotation.comment:
        if comment.startswith(prefix):
            return comment[len(prefix):]
    if feature.deprecated:
        return "the schema marks it deprecated"
    return (f"the schema's lifecycle_stage "
            f"{schema_pb2.LifecycleStage.Name(feature.lifecycle_stage)}")


def kept_out_features(schema) -> dict:
    """``{feature: reason}`` for every feature the schema keeps out of models, in order."""
    return {f.name: kept_out_reason(f) for f in schema.feature if is_kept_out(f)}


def label_of(schema, lineage=None) -> str:
    """A registered model's label: the one its lineage records (``model_info.label``), else
    the feature :func:`add_environments` keeps out of SERVING; ``""`` when neither names one."""
    label = ((lineage or {}).get("model_info") or {}).get("label") or ""
    if label:
        return str(label)
    for feature in schema.feature:
        if SERVING in feature.not_in_environment:
            return feature.name
    return ""
