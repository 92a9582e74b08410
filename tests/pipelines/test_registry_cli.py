"""``kfp-mlops registry ...`` through ``pipelines.cli.main``: text and JSON, errors as one
line naming the input, on a local registry and on the S3 server on loopback."""
import json

import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.pipelines import cli
from tests.components._shared.registry.test_operations import add, fake_parts


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    return fake_parts(tmp_path_factory.mktemp("cli_parts"))


@pytest.fixture
def three(tmp_path, parts):
    """A local registry: versions 1, 2, 3, each made champion by a push in turn."""
    uri = str(tmp_path / "registry")
    registry = reg.open_registry(uri)
    for tag, run in zip("abc", ("run-1", "run-2", "run-3")):
        add(registry, parts, tag, run)
    return uri


def run(capsys, *argv):
    code = cli.main(["registry", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_promote_rollback_history_in_words(three, capsys):
    code, out, err = run(capsys, "rollback", "--registry-uri", three, "penguins",
                         "--reason", "v3 drops recall on Dream", "--by", "ana@laptop")
    assert code == 0, err
    assert out == ("penguins: alias champion moved from version 3 to version 2 by "
                   "ana@laptop: v3 drops recall on Dream\n")
    code, out, _ = run(capsys, "promote", "--registry-uri", three, "penguins", "3",
                       "--alias", "champion", "--reason", "fixed", "--by", "bo@desk")
    assert code == 0 and out.startswith("penguins: alias champion moved from version 2 to "
                                        "version 3 by bo@desk: fixed")
    code, out, _ = run(capsys, "promote", "--registry-uri", three, "penguins", "3",
                       "--alias", "champion", "--reason", "again")
    assert out == "penguins: alias champion already names version 3; nothing moved\n"
    code, out, _ = run(capsys, "history", "--registry-uri", three, "penguins")
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[0].endswith("champion: no version -> version 1 [push] by run-1: blessing of a")
    assert lines[3].endswith("champion: version 3 -> version 2 [rollback] by ana@laptop: "
                             "v3 drops recall on Dream")
    assert lines[4].endswith("champion: version 2 -> version 3 [promote] by bo@desk: fixed")
    code, out, _ = run(capsys, "history", "--registry-uri", three, "penguins", "--alias",
                       "staging")
    assert out == "penguins: no alias has moved yet (alias staging)\n"


def test_json_output(three, capsys):
    code, out, _ = run(capsys, "rollback", "--registry-uri", three, "penguins", "--reason",
                       "bad", "--by", "ci", "--json")
    done = json.loads(out)
    assert code == 0 and (done["from"], done["to"], done["operation"]) == ("3", "2",
                                                                          "rollback")
    entries = json.loads(run(capsys, "history", "--registry-uri", three, "penguins",
                             "--json")[1])
    assert [(e["from"], e["to"], e["by"], e["reason"]) for e in entries][-1] == (3, 2, "ci",
                                                                               "bad")
    rows = json.loads(run(capsys, "list", "--registry-uri", three, "penguins", "--json")[1])
    assert [(r["version"], r["aliases"]) for r in rows] == [("1", []), ("2", ["champion"]),
                                                            ("3", [])]
    assert json.loads(run(capsys, "list", "--registry-uri", three, "--json")[1]) == [
        "penguins"]
    shown = json.loads(run(capsys, "show", "--registry-uri", three, "penguins", "champion",
                           "--json")[1])
    assert shown["version"] == "2" and shown["lineage"]["pipeline_run"] == "run-2"
    assert shown["files"]["model"] == ["saved_model.pb"]


def test_list_and_show_in_words(three, capsys):
    code, out, _ = run(capsys, "list", "--registry-uri", three)
    assert (code, out) == (0, "penguins\n")
    code, out, _ = run(capsys, "list", "--registry-uri", three, "penguins")
    lines = out.splitlines()
    assert lines[0].split() == ["VERSION", "ALIASES", "CREATED", "METRICS", "PIPELINE", "RUN"]
    assert lines[3].split()[:2] == ["3", "champion"] and lines[3].endswith("run-3")
    assert "accuracy 0.9, auc 0.95, f1 0.8" in lines[1]
    code, out, _ = run(capsys, "show", "--registry-uri", three, "penguins", "2")
    assert out.startswith("penguins version 2\n  aliases:       -\n")
    assert "  blessing:      blessed b\n" in out
    assert "champion: version 1 -> version 2 [push] by run-2: blessing of b" in out
    assert "champion: version 2 -> version 3 [push] by run-3: blessing of c" in out


@pytest.mark.parametrize("argv, message", [
    (["rollback", "penguins", "--reason", ""],
     "kfp-mlops: error: --reason is required and was '': say why the alias moves"),
    (["promote", "penguins", "2", "--alias", "champion", "--reason", "  "],
     "kfp-mlops: error: --reason is required and was '  '"),
    (["promote", "penguins", "9", "--alias", "champion", "--reason", "r"],
     "kfp-mlops: error: model 'penguins' has no version 9; versions are [1, 2, 3]"),
    (["promote", "penguins", "2", "--alias", "Champion", "--reason", "r"],
     "kfp-mlops: error: alias 'Champion' is not valid"),
    (["show", "orcas", "1"], "kfp-mlops: error: registry "),
    (["rollback", "penguins", "--reason", "r", "--endpoint", "ep"],
     "kfp-mlops: error: --endpoint 'ep' needs a vertex:// registry"),
])
def test_errors_are_one_line_naming_the_input(three, capsys, argv, message):
    code, out, err = run(capsys, argv[0], "--registry-uri", three, *argv[1:])
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1, err
    assert len(reg.open_registry(three).audit_log("penguins")) == 3  # nothing moved


def test_reason_is_required_by_argparse(three, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["registry", "promote", "--registry-uri", three, "penguins", "1", "--alias",
                  "champion"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err


def test_rollback_with_no_earlier_version(tmp_path, parts, capsys):
    uri = str(tmp_path / "registry")
    add(reg.open_registry(uri), parts, "a", "run-1")
    code, _, err = run(capsys, "rollback", "--registry-uri", uri, "penguins", "--reason", "r")
    assert code == 2 and err == ("kfp-mlops: error: alias 'champion' of model 'penguins' "
                                 "named no earlier version before version 1; nothing to roll "
                                 "back to\n")


def test_promote_rollback_history_on_s3(bucket_on, parts, capsys):
    _, bucket = bucket_on("s3")
    uri = f"s3://{bucket}/registry"
    registry = reg.open_registry(uri)
    for tag in "ab":
        add(registry, parts, tag, f"run-{tag}")
    assert run(capsys, "promote", "--registry-uri", uri, "penguins", "1", "--alias",
               "staging", "--reason", "canary", "--by", "ana")[0] == 0
    code, out, err = run(capsys, "rollback", "--registry-uri", uri, "penguins", "--reason",
                         "b regressed", "--by", "ana")
    assert code == 0, err
    assert out.startswith("penguins: alias champion moved from version 2 to version 1")
    entries = json.loads(run(capsys, "history", "--registry-uri", uri, "penguins", "--json")[1])
    assert [(e["alias"], e["from"], e["to"], e["operation"]) for e in entries] == [
        ("champion", None, 1, "push"), ("champion", 1, 2, "push"),
        ("staging", None, 1, "promote"), ("champion", 2, 1, "rollback")]
    assert reg.open_registry(uri).aliases("penguins") == {"champion": 1, "staging": 1}
