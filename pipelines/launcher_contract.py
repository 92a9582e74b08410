"""What the Kubeflow v2 launcher accepts in a task's ``executor_output.json``, checked locally.

``kfp.local`` (kfp 2.13) reads a task's executor output with Python's ``json`` and keeps
whatever it finds. The real backends are stricter, and a task whose work succeeded still
fails there when its outputs cannot be recorded. The rules, as the Kubeflow Pipelines
sources encode them (kubeflow/pipelines):

1. The file is parsed with ``protojson.Unmarshal`` into ``ExecutorOutput``
   (``backend/src/v2/component/launcher_v2.go``, ``getExecutorOutputFile``). That is strict
   JSON: the ``NaN`` / ``Infinity`` / ``-Infinity`` literals Python's ``json.dumps`` writes are
   a syntax error, and a number too large for a double (``1e999``) is refused
   (google.golang.org/protobuf ``encoding/protojson/well_known_types.go``,
   ``unmarshalKnownValue``: ``unmarshalFloat`` fails -> "invalid google.protobuf.Value").
   Writing such a number the other way fails as well (``marshalKnownValue``: "invalid NaN
   value"). So no number anywhere in the file may be non-finite.
2. Each output artifact's metadata is recorded in ML Metadata by ``RecordArtifact`` ->
   ``toMLMDArtifact`` -> ``StructValueToMLMDValue`` (``backend/src/v2/metadata/converter.go``),
   one custom property per top-level key. That function has cases for string, number,
   bool, list and struct only (``// TODO: support null``) and returns "unknown/unsupported
   value type *structpb.Value_NullValue" for a top-level ``null``: the task fails. A list or
   struct is stored whole as an MLMD ``struct_value`` (a ``google.protobuf.Struct``), in which
   a nested ``null`` is a valid ``Value``; so a ``null`` *inside* a list or struct is accepted.
   (``_kfp_workspace`` is skipped by ``toMLMDArtifact``; it is not ours to write anyway.)
3. Parameter outputs are taken from ``parameterValues`` as they are
   (``launcher_v2.go``, ``collectOutputParameters`` reads only the parameters *missing* from
   the file, from their ``OutputPath`` files, through ``converter.go`` ``TextToPbValue``) and
   published as the execution's ``outputs`` (``metadata/client.go``, ``PublishExecution``).
   ``TextToPbValue`` is the backend's statement of what each declared type is: STRING a
   string, NUMBER_INTEGER an integer (``strconv.ParseInt``), NUMBER_DOUBLE a number, BOOLEAN a
   bool, LIST a list value, STRUCT a struct value. A value of another kind reaches the next
   task's input as the wrong type (kfp.local hides this: ``executor_output_utils``
   ``cast_protobuf_numbers`` silently truncates 2.5 to 2), so we refuse it here.

Vertex AI Pipelines runs the same ``ExecutorOutput`` contract; its documentation states no
looser rule, so the same checks stand for it.

Pure Python (stdlib only): :mod:`kfp_mlops.pipelines.local` calls it after every task.
"""
import dataclasses
import json
import math
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

EXECUTOR_OUTPUT_FILE = "executor_output.json"

PARAMETER_TYPES = ("STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN", "LIST", "STRUCT")


class NonFinite:
    """A ``NaN`` / ``Infinity`` / ``-Infinity`` literal found in the file, kept to be reported."""

    def __init__(self, literal: str):
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


@dataclasses.dataclass(frozen=True)
class Violation:
    task: str
    kind: str          # "artifact", "parameter" or "file"
    name: str          # the output's name (artifact or parameter)
    key: str           # metadata key path, e.g. "champion_version" or "metrics.auc"; "" for a parameter
    value: Any
    rule: str

    def __str__(self) -> str:
        where = f"artifact {self.name!r} metadata key {self.key!r}" if self.kind == "artifact" \
            else f"parameter output {self.name!r}" if self.kind == "parameter" else self.name
        return f"task {self.task!r}: {where} = {_show(self.value)}: {self.rule}"


def _show(value: Any) -> str:
    if isinstance(value, NonFinite):
        return value.literal
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    text = json.dumps(value, default=repr)
    return text if len(text) <= 200 else text[:200] + " ..."


def parse(text: str) -> Dict[str, Any]:
    """``executor_output.json`` as data; the non-JSON number literals become :class:`NonFinite`.

    Raises:
        ValueError: the text is not JSON at all, or not an object.
    """
    value = json.loads(text, parse_constant=NonFinite)
    if not isinstance(value, dict):
        raise ValueError(f"executor output must be a JSON object, got {type(value).__name__}")
    return value


_NON_FINITE_RULE = ("not a finite number: protobuf JSON (the launcher's protojson.Unmarshal of "
                    "executor_output.json) cannot hold NaN or Infinity")


def _non_finite(value: Any) -> bool:
    return isinstance(value, NonFinite) or (
        isinstance(value, float) and not math.isfinite(value))


def _walk(value: Any, path: str) -> Iterator[Tuple[str, Any]]:
    """Every (path, leaf) below ``value``; containers are descended, leaves yielded."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def check_metadata(task: str, artifact: str, metadata: Mapping[str, Any]) -> List[Violation]:
    """Rules 1 and 2 on one artifact's metadata."""
    found = []
    for key, value in metadata.items():
        if value is None:
            found.append(Violation(task, "artifact", artifact, key, None,
                                   "a top-level null cannot be recorded (converter.go "
                                   "StructValueToMLMDValue: unknown/unsupported value type); "
                                   "leave the key out when there is no value"))
            continue
        for path, leaf in _walk(value, key):
            if _non_finite(leaf):
                found.append(Violation(task, "artifact", artifact, path, leaf, _NON_FINITE_RULE))
    return found


def _type_matches(value: Any, declared: str) -> bool:
    if declared == "STRING":
        return isinstance(value, str)
    if declared == "BOOLEAN":
        return isinstance(value, bool)
    if declared == "NUMBER_DOUBLE":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if declared == "NUMBER_INTEGER":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if declared == "LIST":
        return isinstance(value, list)
    if declared == "STRUCT":
        return isinstance(value, dict)
    raise ValueError(f"unknown parameter type {declared!r}; expected one of "
                     f"{', '.join(PARAMETER_TYPES)}")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, NonFinite)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "struct" if isinstance(value, dict) \
        else type(value).__name__


def check_parameters(task: str, values: Mapping[str, Any],
                     declared: Mapping[str, str]) -> List[Violation]:
    """Rules 1 and 3 on the parameter outputs against their declared types."""
    found = []
    for name, value in values.items():
        kind = declared.get(name)
        if kind is None:
            found.append(Violation(task, "parameter", name, "", value,
                                   f"not a declared output; declared outputs are "
                                   f"{sorted(declared) or 'none'}"))
            continue
        if _non_finite(value):
            found.append(Violation(task, "parameter", name, "", value, _NON_FINITE_RULE))
            continue
        if not _type_matches(value, kind):
            found.append(Violation(task, "parameter", name, "", value,
                                   f"declared {kind} but the value is a JSON {_json_kind(value)} "
                                   "(converter.go TextToPbValue is what each type must be)"))
            continue
        for path, leaf in _walk(value, ""):
            if _non_finite(leaf):
                found.append(Violation(task, "parameter", name, path, leaf, _NON_FINITE_RULE))
    return found


def check(task: str, executor_output: Mapping[str, Any],
          parameter_types: Mapping[str, str]) -> List[Violation]:
    """Every violation in one task's executor output, as :func:`parse` returns it.

    Args:
        task: The task's name, for the messages.
        executor_output: ``{"artifacts": {name: {"artifacts": [{name, uri, metadata}]}},
            "parameterValues": {name: value}}``.
        parameter_types: The component's declared parameter outputs, ``{name: type}`` with
            the types of :data:`PARAMETER_TYPES`.
    """
    found: List[Violation] = []
    for name, artifact_list in (executor_output.get("artifacts") or {}).items():
        for artifact in (artifact_list or {}).get("artifacts") or []:
            found.extend(check_metadata(task, name, artifact.get("metadata") or {}))
    found.extend(check_parameters(task, executor_output.get("parameterValues") or {},
                                  parameter_types))
    return found


def check_file(task: str, path: str, parameter_types: Mapping[str, str]) -> List[Violation]:
    """:func:`check` on the ``executor_output.json`` at ``path``; no file, no outputs, no violation.

    As the launcher does (``getExecutorOutputFile`` returns an empty ExecutorOutput when the
    file does not exist), a missing file is not an error.
    """
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = parse(text)
    except ValueError as e:
        return [Violation(task, "file", path, "", text[:200],
                          f"not valid JSON, as protojson.Unmarshal needs it: {e}")]
    return check(task, data, parameter_types)


def describe(violations: List[Violation], limit: Optional[int] = 10) -> str:
    """One message for a task's violations (the first ``limit`` spelled out)."""
    shown = violations if limit is None else violations[:limit]
    text = "; ".join(str(v) for v in shown)
    if len(violations) > len(shown):
        text += f"; and {len(violations) - len(shown)} more"
    return ("outputs the Kubeflow launcher would refuse (the task would fail there after its "
            f"work succeeded): {text}")
