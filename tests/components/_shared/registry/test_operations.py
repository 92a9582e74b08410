"""Registry operations (``registry/operations.py``): promote, roll back, history, list, show,
and the audit log behind them, on a local folder and on the S3 server on loopback. The
versions are small stand-in SavedModel folders (what the registry checks: saved_model.pb)."""
import multiprocessing
import os

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components._shared.registry import operations as ops

EVALUATION = {"metrics": {"accuracy": 0.9, "loss": 0.3, "auc": 0.95, "f1": 0.8}}


def fake_parts(root) -> dict:
    """Five stand-in SavedModels (different bytes), a schema folder, a statistics folder."""
    parts = {}
    for tag in "abcde":
        folder = root / f"model_{tag}"
        (folder / "variables").mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(f"saved model {tag}".encode())
        parts[f"model_{tag}"] = str(folder)
    (root / "schema").mkdir()
    (root / "schema" / "schema.pbtxt").write_text('feature { name: "x" type: FLOAT }\n')
    (root / "statistics" / "Split-train").mkdir(parents=True)
    (root / "statistics" / "Split-train" / "FeatureStats.pb").write_bytes(b"stats")
    parts["schema"], parts["statistics"] = str(root / "schema"), str(root / "statistics")
    return parts


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    return fake_parts(tmp_path_factory.mktemp("fake_parts"))


def add(registry, parts, tag, run):
    """Registers model ``tag`` and moves champion to it as push does (from where it is)."""
    version = registry.register("penguins", parts[f"model_{tag}"], parts["schema"],
                                parts["statistics"], EVALUATION,
                                {"pipeline_run": run, "reasons": [f"blessed {tag}"]},
                                aliases=())
    current = ops._current(registry, "penguins", "champion")
    registry.compare_and_set_alias("penguins", "champion", version.version,
                                   None if current is None else current.version,
                                   by=run, reason=f"blessing of {tag}", operation="push")
    return version


@pytest.fixture(params=["local", "s3"])
def registry(request, tmp_path):
    if request.param == "local":
        return reg.open_registry(str(tmp_path / "registry"))
    _, bucket = request.getfixturevalue("bucket_on")("s3")
    return reg.open_registry(f"s3://{bucket}/registry")


def moves(registry, alias="champion"):
    return [(e["from"], e["to"], e["operation"])
            for e in ops.history(registry, "penguins", alias)]


def test_promote_rollback_and_history(registry, parts):
    for tag, run in zip("abc", ("run-1", "run-2", "run-3")):
        add(registry, parts, tag, run)
    assert registry.resolve("penguins").version == 3
    log = ops.history(registry, "penguins")
    assert [(e["alias"], e["from"], e["to"], e["by"], e["reason"], e["operation"])
            for e in log] == [
        ("champion", None, 1, "run-1", "blessing of a", "push"),
        ("champion", 1, 2, "run-2", "blessing of b", "push"),
        ("champion", 2, 3, "run-3", "blessing of c", "push")]
    assert [e["seq"] for e in log] == [1, 2, 3] and all(e["at"] for e in log)

    # rollback: back to the version before the current one was set
    done = ops.rollback(registry, "penguins", reason="v3 drops recall", by="ana@laptop")
    assert (done["from"], done["to"], done["moved"], done["skipped"]) == ("3", "2", True, [])
    assert registry.resolve("penguins").version == 2
    # a second rollback goes further back, not back to 3
    assert ops.rollback(registry, "penguins", reason="v2 too", by="ana@laptop")["to"] == "1"
    with pytest.raises(ops.RollbackError, match="named no earlier version before version 1"):
        ops.rollback(registry, "penguins", reason="again", by="ana@laptop")
    assert registry.resolve("penguins").version == 1  # nothing moved

    # promote by hand: from what it names now; the log keeps who and why
    done = ops.promote(registry, "penguins", 3, "champion", reason="fixed upstream",
                       by="bo@desk")
    assert (done["from"], done["to"], done["operation"]) == ("1", "3", "promote")
    assert ops.promote(registry, "penguins", 3, "champion", reason="again",
                       by="bo@desk")["moved"] is False
    # a rollback after a forward move: to where that move came from
    assert ops.rollback(registry, "penguins", reason="no", by="bo@desk")["to"] == "1"
    assert moves(registry) == [(None, 1, "push"), (1, 2, "push"), (2, 3, "push"),
                               (3, 2, "rollback"), (2, 1, "rollback"), (1, 3, "promote"),
                               (3, 1, "rollback")]
    last = ops.history(registry, "penguins", "champion")[-1]
    assert (last["by"], last["reason"]) == ("bo@desk", "no")

    # another alias, and its own history
    ops.promote(registry, "penguins", 2, "staging", reason="try 2", by="bo@desk")
    assert moves(registry, "staging") == [(None, 2, "promote")]
    assert registry.aliases("penguins") == {"champion": 1, "staging": 2}


def test_rollback_skips_versions_that_no_longer_exist(tmp_path, parts):
    registry = reg.open_registry(str(tmp_path / "registry"))
    for tag in "abcd":
        add(registry, parts, tag, f"run-{tag}")
    # version 3 is gone (a tombstone, as an abandoned push leaves)
    io.remove(io.join(registry.version_dir("penguins", 3), "version.json"))
    io.write_json(io.join(registry.version_dir("penguins", 3), "version.json"),
                  {"state": "abandoned"})
    done = ops.rollback(registry, "penguins", reason="v4 is wrong", by="ana@laptop")
    assert (done["from"], done["to"], done["skipped"]) == ("4", "2", ["3"])
    assert registry.resolve("penguins").version == 2


def test_rollback_needs_an_earlier_version(tmp_path, parts):
    registry = reg.open_registry(str(tmp_path / "registry"))
    registry.register("penguins", parts["model_a"], parts["schema"], parts["statistics"],
                      EVALUATION, {}, aliases=())
    with pytest.raises(ops.RollbackError, match="alias 'champion' of model 'penguins' names "
                                                "no version; there is nothing to roll back"):
        ops.rollback(registry, "penguins", reason="x", by="me")
    add(registry, parts, "b", "run-b")
    with pytest.raises(ops.RollbackError, match="named no earlier version before version 2"):
        ops.rollback(registry, "penguins", reason="x", by="me")


def test_a_reason_is_required(tmp_path, parts):
    registry = reg.open_registry(str(tmp_path / "registry"))
    add(registry, parts, "a", "run-a")
    add(registry, parts, "b", "run-b")
    for reason in (None, "", "   "):
        with pytest.raises(reg.RegistryError, match="reason is required"):
            ops.promote(registry, "penguins", 1, "champion", reason=reason)
        with pytest.raises(reg.RegistryError, match="reason is required"):
            ops.rollback(registry, "penguins", reason=reason)
    assert len(ops.history(registry, "penguins")) == 2  # nothing moved


def test_by_defaults_to_user_at_host(tmp_path, parts, monkeypatch):
    import getpass
    import socket

    monkeypatch.setattr(getpass, "getuser", lambda: "ana")
    monkeypatch.setattr(socket, "gethostname", lambda: "laptop")
    registry = reg.open_registry(str(tmp_path / "registry"))
    add(registry, parts, "a", "run-a")
    assert ops.promote(registry, "penguins", 1, "blue", reason="r")["by"] == "ana@laptop"


def test_old_alias_records_still_read(tmp_path, parts):
    """Records written before the audit log (no by / reason / operation) read as ""."""
    registry = reg.open_registry(str(tmp_path / "registry"))
    add(registry, parts, "a", "run-a")
    add(registry, parts, "b", "run-b")
    root = io.join(registry.model_root("penguins"), "aliases")
    for name in io.listdir(root):
        body = io.read_json(io.join(root, name))
        for key in ("by", "reason", "operation"):
            body.pop(key)
        io.write_json(io.join(root, name), body)
    assert [(e["from"], e["to"], e["by"], e["reason"], e["operation"])
            for e in registry.audit_log("penguins")] == [
        (None, 1, "", "", ""), (1, 2, "", "", "")]
    assert ops.rollback(registry, "penguins", reason="old", by="me")["to"] == "1"


def test_list_and_show(tmp_path, parts):
    registry = reg.open_registry(str(tmp_path / "registry"))
    add(registry, parts, "a", "run-a")
    add(registry, parts, "b", "run-b")
    assert ops.list_models(registry) == ["penguins"]
    rows = ops.list_versions(registry, "penguins")
    assert [(r["version"], r["aliases"], r["pipeline_run"], r["blessing"]) for r in rows] == [
        ("1", [], "run-a", "blessed a"), ("2", ["champion"], "run-b", "blessed b")]
    assert rows[0]["metrics"] == {"accuracy": 0.9, "auc": 0.95, "f1": 0.8}
    assert all(r["created"] for r in rows)
    shown = ops.show(registry, "penguins", "champion")
    assert shown["version"] == "2" and shown["aliases"] == ["champion"]
    assert shown["evaluation"] == EVALUATION
    assert shown["lineage"]["pipeline_run"] == "run-b"
    assert shown["files"]["model"] == ["saved_model.pb"]
    assert shown["files"]["statistics"] == ["Split-train/FeatureStats.pb"]
    assert [(e["from"], e["to"]) for e in shown["alias_moves"]] == [(1, 2)]
    with pytest.raises(reg.ModelNotFoundError, match="holds no model 'orcas'"):
        ops.list_versions(registry, "orcas")
    with pytest.raises(reg.VersionNotFoundError, match="no version 7"):
        ops.show(registry, "penguins", 7)


def _promote_in_a_process(root, version, start, results):
    registry = reg.open_registry(root)
    start.wait()
    try:
        done = ops.promote(registry, "penguins", version, "champion", reason=f"race {version}",
                           by=f"p{version}")
        results.put(("moved", done["from"], done["to"]))
    except reg.AliasConflictError as e:
        results.put(("conflict", str(e), version))


def test_two_promotions_at_once_one_wins(tmp_path, parts, monkeypatch):
    """Both read champion = 1, then both compare-and-set from 1: one wins, the other is a
    clear conflict (the read is held back so both reads happen before either move)."""
    root = str(tmp_path / "registry")
    registry = reg.open_registry(root)
    for tag in "abc":
        registry.register("penguins", parts[f"model_{tag}"], parts["schema"],
                          parts["statistics"], EVALUATION, {}, aliases=())
    registry.set_alias("penguins", "champion", 1, by="t", reason="start")
    context = multiprocessing.get_context("fork")
    read = ops._current
    both_read = context.Barrier(2)

    def current_then_wait(*args):
        found = read(*args)
        both_read.wait(30)
        return found

    monkeypatch.setattr(ops, "_current", current_then_wait)
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_promote_in_a_process, args=(root, v, start, results))
               for v in (2, 3)]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(60)
    outcomes = sorted([results.get(timeout=5) for _ in workers])
    assert [o[0] for o in outcomes] == ["conflict", "moved"]
    winner = outcomes[1][2]
    assert outcomes[0][1].startswith(f"alias 'champion' of model 'penguins' points at "
                                     f"{winner}, not at 1 as expected; not moved to")
    assert str(registry.resolve("penguins").version) == winner
    assert moves(registry)[-1] == (1, int(winner), "promote")
    assert len(ops.history(registry, "penguins")) == 2
