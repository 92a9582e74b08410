"""The Kubeflow launcher's rules on executor outputs: the check on crafted files, and every
local run held to it (a component writing a null or NaN fails its kfp.local run)."""
import json
import math

import pytest
from kfp import dsl

from kfp_mlops.pipelines import launcher_contract as lc
from kfp_mlops.pipelines import local

TYPES = {"blessed": "BOOLEAN", "version": "STRING", "rows": "NUMBER_INTEGER",
         "score": "NUMBER_DOUBLE", "names": "LIST", "config": "STRUCT"}


def output(metadata=None, **parameters):
    out = {"artifacts": {"blessing": {"artifacts": [
        {"name": "blessing", "uri": "/tmp/x/blessing", "metadata": metadata or {}}]}}}
    if parameters:
        out["parameterValues"] = parameters
    return out


def check(executor_output, types=TYPES):
    return lc.check("evaluate", executor_output, types)


def test_a_clean_output_has_no_violation():
    clean = output({"blessed": True, "reasons": ["passed"], "rows": 3, "auc": 0.9,
                    "champion": {"version": "1", "error": None}, "aliases": [None, "x"]},
                   blessed=True, version="3", rows=12, score=0.5, names=["a"],
                   config={"k": None})
    assert check(clean) == []
    # what the launcher does with a missing file: an empty ExecutorOutput
    assert lc.check_file("evaluate", "/nonexistent/executor_output.json", TYPES) == []


def test_a_top_level_null_is_refused_with_task_artifact_key_and_value():
    [v] = check(output({"blessed": True, "champion_version": None}))
    assert (v.task, v.kind, v.name, v.key, v.value) == (
        "evaluate", "artifact", "blessing", "champion_version", None)
    text = str(v)
    assert "task 'evaluate'" in text and "artifact 'blessing'" in text
    assert "'champion_version' = null" in text and "StructValueToMLMDValue" in text


def test_a_null_nested_in_a_list_or_struct_is_accepted_as_the_converter_does():
    # converter.go stores a list or struct whole as an MLMD struct_value, where a nested
    # null is a valid google.protobuf.Value; only a top-level null has no case.
    assert check(output({"champion": {"version": None}, "seen": [1, None]})) == []


@pytest.mark.parametrize("value, shown", [(float("nan"), "NaN"), (float("inf"), "Infinity"),
                                          (float("-inf"), "-Infinity")])
def test_non_finite_numbers_are_refused_anywhere_in_metadata(value, shown):
    found = check(output({"auc": value, "per_class": {"a": {"auc": value}},
                          "curve": [0.1, value]}))
    assert [(v.key, lc._show(v.value)) for v in found] == [
        ("auc", shown), ("per_class.a.auc", shown), ("curve[1]", shown)]
    assert all("protojson" in v.rule for v in found)


def test_the_literals_python_json_writes_are_caught_in_the_file(tmp_path):
    path = tmp_path / "executor_output.json"
    # json.dumps writes NaN / Infinity literals that json.loads reads back; protojson cannot
    path.write_text(json.dumps(output({"auc": float("nan"), "rmse": float("inf")},
                                      score=float("-inf"))))
    assert "NaN" in path.read_text()
    found = lc.check_file("evaluate", str(path), TYPES)
    assert [(v.kind, v.name, v.key, lc._show(v.value)) for v in found] == [
        ("artifact", "blessing", "auc", "NaN"), ("artifact", "blessing", "rmse", "Infinity"),
        ("parameter", "score", "", "-Infinity")]
    # a number too large for a double is inf to Python and refused by protojson
    path.write_text('{"parameterValues": {"score": 1e999}}')
    [v] = lc.check_file("evaluate", str(path), TYPES)
    assert v.name == "score" and math.isinf(v.value)


def test_a_file_that_is_not_json_is_a_violation(tmp_path):
    path = tmp_path / "executor_output.json"
    path.write_text("{not json")
    [v] = lc.check_file("evaluate", str(path), TYPES)
    assert v.kind == "file" and "not valid JSON" in v.rule


@pytest.mark.parametrize("name, value", [
    ("blessed", "true"), ("blessed", 1), ("version", 3), ("version", None), ("rows", 2.5),
    ("rows", True), ("score", "0.5"), ("score", False), ("names", "a,b"), ("config", [1]),
])
def test_parameter_outputs_must_be_of_their_declared_type(name, value):
    [v] = check(output(**{name: value}))
    assert (v.kind, v.name, v.value) == ("parameter", name, value)
    assert f"declared {TYPES[name]}" in v.rule
    assert f"parameter output {name!r}" in str(v)


def test_integral_numbers_are_integers_and_undeclared_outputs_are_refused():
    assert check(output(rows=3.0, score=2)) == []
    [v] = check(output(extra="x"))
    assert v.name == "extra" and "not a declared output" in v.rule


def test_describe_names_every_violation_and_counts_the_rest():
    found = check(output({f"k{i}": None for i in range(12)}))
    text = lc.describe(found)
    assert "'k0' = null" in text and "'k9' = null" in text and "and 2 more" in text


# --------------------------------------------------------------------- through kfp.local

@dsl.component
def writes_null(out: dsl.Output[dsl.Artifact]):
    with open(out.path, "w") as f:
        f.write("x")
    out.metadata["x"] = None
    out.metadata["fine"] = {"nested": None}


@dsl.component
def writes_nan(out: dsl.Output[dsl.Metrics]):
    out.log_metric("auc", float("nan"))


@dsl.component
def writes_wrong_type() -> int:
    return True     # kfp's executor lets a bool through as an int (bool is an int subclass)


@dsl.component
def writes_clean(out: dsl.Output[dsl.Artifact]) -> str:
    with open(out.path, "w") as f:
        f.write("x")
    out.metadata.update({"rows": 3, "score": 0.5, "names": ["a"], "champion": {"v": None}})
    return "ok"


@dsl.component
def downstream(text: str) -> str:
    return text


@dsl.pipeline(name="contract-bad-null")
def bad_null():
    writes_null()


@dsl.pipeline(name="contract-bad-nan")
def bad_nan():
    writes_nan()


@dsl.pipeline(name="contract-bad-type")
def bad_type():
    writes_wrong_type()


@dsl.pipeline(name="contract-good")
def good():
    downstream(text=writes_clean().outputs["Output"])


def test_a_null_metadata_value_fails_the_local_run(tmp_path):
    summary = local.run_pipeline(bad_null, {}, str(tmp_path))
    assert summary.status == "FAILURE"
    [task] = summary.tasks
    assert task.name == "writes-null" and task.status == "FAILURE"
    for part in ("task 'writes-null'", "artifact 'out'", "'x' = null"):
        assert part in task.error and part in summary.error
    assert "fine" not in task.error        # a nested null is accepted
    assert "error: outputs the Kubeflow launcher would refuse" in local.format_summary(summary)


def test_a_nan_metric_fails_the_local_run(tmp_path):
    summary = local.run_pipeline(bad_nan, {}, str(tmp_path))
    assert summary.status == "FAILURE"
    [task] = summary.tasks
    assert task.status == "FAILURE"
    assert "task 'writes-nan': artifact 'out' metadata key 'auc' = NaN" in summary.error


def test_a_parameter_of_the_wrong_type_fails_the_local_run(tmp_path):
    summary = local.run_pipeline(bad_type, {}, str(tmp_path))
    assert summary.status == "FAILURE"
    assert "parameter output 'Output' = true: declared NUMBER_INTEGER but the value is a JSON bool" in summary.error


def test_a_clean_pipeline_passes_and_its_downstream_task_runs(tmp_path):
    summary = local.run_pipeline(good, {}, str(tmp_path))
    assert summary.status == "SUCCESS", local.format_summary(summary)
    assert [(t.name, t.status, t.error) for t in summary.tasks] == [
        ("writes-clean", "SUCCESS", ""), ("downstream", "SUCCESS", "")]
    assert summary.tasks[1].outputs["Output"] == "ok"


def test_a_changed_kfp_local_stops_every_run(monkeypatch, tmp_path):
    from kfp.local import task_dispatcher

    def renamed(pipeline_resource_name, component, spec):   # the arguments we need are gone
        raise AssertionError("never called")

    monkeypatch.setattr(task_dispatcher, "run_single_task_implementation", renamed)
    with pytest.raises(RuntimeError, match="takes no component_name, component_spec"):
        local.run_pipeline(good, {}, str(tmp_path))


def assert_run_passes_the_contract(pipeline_name, output_dir, task_names):
    """Every task of a finished run wrote an executor output the launcher accepts.

    Re-reads the files themselves (not only the run's status), with the parameter types
    declared in the compiled pipeline, so a test of a real run shows the check ran on it.
    """
    import glob
    import os

    from kfp.pipeline_spec import pipeline_spec_pb2

    from kfp_mlops.pipelines import catalog

    enum = pipeline_spec_pb2.ParameterType.ParameterTypeEnum
    components = catalog.get(pipeline_name).pipeline_spec.components
    files = {os.path.basename(os.path.dirname(p)): p for p in
             glob.glob(os.path.join(str(output_dir), "*", "*", lc.EXECUTOR_OUTPUT_FILE))}
    assert sorted(files) == sorted(task_names), files
    for task, path in files.items():
        declared = {n: enum.Name(s.parameter_type) for n, s in
                    components[f"comp-{task}"].output_definitions.parameters.items()}
        with open(path, encoding="utf-8") as f:
            data = lc.parse(f.read())
        assert data.get("artifacts") or data.get("parameterValues"), path
        assert lc.check(task, data, declared) == [], path


@pytest.fixture
def regression_csv(tmp_path):
    """Generated regression data, not penguins: a constant column, missing values, a
    category, a real-valued target."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=n)
    frame = pd.DataFrame({
        "x": x, "constant": 1.0,
        "sparse": np.where(np.arange(n) % 3 == 0, np.nan, rng.random(n)),
        "colour": rng.choice(["red", "green", "blue"], size=n),
        "y": 3 * x + rng.normal(scale=0.1, size=n)})
    path = tmp_path / "regression.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_generated_regression_data_through_data_validation_passes_the_contract(
        tmp_path, regression_csv):
    summary = local.run("data-validation", {"data_uri": regression_csv, "label_column": "y"},
                        str(tmp_path / "run"))
    assert summary.status == "SUCCESS", local.format_summary(summary)
    assert [(t.name, t.error) for t in summary.tasks] == [("ingest", ""), ("validate", "")]
    assert_run_passes_the_contract("data-validation", tmp_path / "run", ["ingest", "validate"])

    # the end-to-end tests' helper is not vacuous: with a null put in the files, it fails
    import glob
    [path] = glob.glob(str(tmp_path / "run" / "*" / "validate" / lc.EXECUTOR_OUTPUT_FILE))
    data = json.load(open(path))
    data["artifacts"]["report"]["artifacts"][0]["metadata"]["passed"] = None
    json.dump(data, open(path, "w"))
    with pytest.raises(AssertionError, match="passed"):
        assert_run_passes_the_contract("data-validation", tmp_path / "run",
                                       ["ingest", "validate"])


def test_the_command_exits_non_zero_and_says_which_value(monkeypatch, tmp_path, capsys):
    from kfp_mlops.pipelines import catalog, cli

    monkeypatch.setitem(catalog.PIPELINES, "contract-bad-null",
                        "tests.pipelines.test_launcher_contract:bad_null")
    summary_path = tmp_path / "summary.json"
    code = cli.main(["run", "contract-bad-null", "--local", "--output-dir", str(tmp_path / "out"),
                     "--summary-json", str(summary_path)])
    assert code == 1
    printed = capsys.readouterr().out
    assert "Pipeline contract-bad-null: FAILURE" in printed
    assert "task 'writes-null': artifact 'out' metadata key 'x' = null" in printed
    summary = json.loads(summary_path.read_text())
    assert "'x' = null" in summary["error"] and summary["tasks"][0]["status"] == "FAILURE"
