"""The folder registry (``registry/folder.py``) on a local folder and on the S3 and Cloud
Storage servers on loopback: real concurrent processes, real SIGKILLs."""
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components._shared.registry import folder as folder_registry
from tests.components._shared.registry.conftest import (
    EVALUATION, ROOT, lineage, register, tree_hash)


# --------------------------------------------------------------------------- every store

def test_versions_are_numbered_and_champion_moves(store, parts):
    registry = reg.open_registry(store)
    v1 = register(registry, parts, "model_a")
    v2 = register(registry, parts, "model_b")
    assert (v1.version, v2.version) == (1, 2)
    assert not v1.reused and not v2.reused
    assert v2.aliases == ["champion"]
    assert registry.resolve("penguins").version == 2
    assert registry.resolve("penguins", 1).aliases == []
    assert [v.version for v in registry.versions("penguins")] == [1, 2]
    assert registry.aliases("penguins") == {"champion": 2}
    history = registry.alias_history("penguins")
    assert [(h["seq"], h["aliases"], h["changed"]) for h in history] == [
        (1, {"champion": 1}, {"champion": {"from": None, "to": 1}}),
        (2, {"champion": 2}, {"champion": {"from": 1, "to": 2}})]

    folder = io.join(store, "penguins", "versions", "2")
    assert v2.uri == folder
    assert v2.model_dir == io.join(folder, "model")
    assert tree_hash(v2.model_dir) == io.sha256_tree(parts["model_b"])
    assert v2.model_hash == io.sha256_tree(parts["model_b"])
    assert io.isfile(io.join(folder, "model", "saved_model.pb"))
    with open(os.path.join(parts["schema"], "schema.pbtxt")) as want:
        assert io.read_text(v2.schema_path) == want.read()
    assert tree_hash(v2.statistics_dir) == io.sha256_tree(parts["statistics"])
    assert io.isfile(io.join(folder, "statistics", "Split-train", "FeatureStats.pb"))
    assert v2.evaluation == EVALUATION
    assert v2.lineage["data_content_hash"] == "d" * 64
    assert v2.lineage["data_source"] == "penguins.csv"
    assert v2.lineage["pipeline_run"] == "run-1"
    assert v2.lineage["model_content_hash"] == v2.model_hash
    assert v2.lineage["version"] == 2 and v2.lineage["created"] == v2.created
    info = io.read_json(io.join(folder, "version.json"))
    assert info["model_content_hash"] == v2.model_hash and info["version"] == 2
    claim = io.read_json(io.join(store, "penguins", "claims", "000002.json"))
    assert claim["model_content_hash"] == v2.model_hash and claim["owner"] == info["owner"]


def test_resolve_by_alias_number_and_latest(store, parts):
    registry = reg.open_registry(store)
    register(registry, parts, "model_a")
    register(registry, parts, "model_b", aliases=("candidate",))
    assert registry.resolve("penguins", "champion").version == 1
    assert registry.resolve("penguins", "candidate").version == 2
    assert registry.resolve("penguins", "latest").version == 2
    assert registry.resolve("penguins", "1").version == 1
    assert registry.resolve("penguins", 2).aliases == ["candidate"]
    moved = registry.set_alias("penguins", "champion", 2)
    assert moved.version == 2 and moved.aliases == ["candidate", "champion"]
    assert registry.resolve("penguins", 1).aliases == []


def test_compare_and_set_alias(store, parts):
    registry = reg.open_registry(store)
    register(registry, parts, "model_a")
    register(registry, parts, "model_b", aliases=())
    register(registry, parts, "model_c", aliases=())
    with pytest.raises(reg.AliasConflictError,
                       match="alias 'champion' of model 'penguins' points at 1, not at 2"):
        registry.compare_and_set_alias("penguins", "champion", 3, expected=2)
    assert registry.aliases("penguins") == {"champion": 1}  # nothing changed
    assert registry.compare_and_set_alias("penguins", "champion", 2, expected=1).version == 2
    with pytest.raises(reg.AliasConflictError, match="points at 2, not at 1"):
        registry.compare_and_set_alias("penguins", "champion", 3, expected=1)
    # None: only when the alias does not exist yet
    assert registry.compare_and_set_alias("penguins", "blue", 3, expected=None).version == 3
    with pytest.raises(reg.AliasConflictError, match="points at 3, not at no version"):
        registry.compare_and_set_alias("penguins", "blue", 1, expected=None)
    assert registry.aliases("penguins") == {"champion": 2, "blue": 3}
    with pytest.raises(reg.VersionNotFoundError, match="has no version 9"):
        registry.compare_and_set_alias("penguins", "champion", 9, expected=2)


def test_unknown_refs_give_clear_errors(store, parts):
    registry = reg.open_registry(store)
    with pytest.raises(reg.ModelNotFoundError, match="holds no model 'penguins'"):
        registry.resolve("penguins")
    register(registry, parts, "model_a")
    with pytest.raises(reg.VersionNotFoundError,
                       match=r"no version aliased 'staging'; aliases are \['champion'\], "
                             r"versions are \[1\]"):
        registry.resolve("penguins", "staging")
    with pytest.raises(reg.VersionNotFoundError, match=r"has no version 7; versions are \[1\]"):
        registry.resolve("penguins", 7)
    with pytest.raises(reg.VersionNotFoundError, match="has no version 3"):
        registry.set_alias("penguins", "champion", 3)


@pytest.mark.parametrize("name", ["", "a/b", "../up", "-dash", "has space", ".hidden", "x" * 129])
def test_bad_model_names(tmp_path, parts, name):
    registry = reg.LocalRegistry(str(tmp_path))
    with pytest.raises(reg.RegistryError, match="model_name .* is not valid"):
        register(registry, parts, name=name)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("alias", ["Champion", "latest", "default", "has_underscore", "9lives", ""])
def test_bad_aliases(tmp_path, parts, alias):
    registry = reg.LocalRegistry(str(tmp_path))
    with pytest.raises(reg.RegistryError, match="alias .* is not valid"):
        register(registry, parts, aliases=[alias])
    assert os.listdir(tmp_path) == []


def test_bad_inputs_name_the_input(store, parts):
    registry = reg.open_registry(store)
    with pytest.raises(reg.RegistryError, match="model_dir .* saved_model.pb is missing"):
        registry.register("m", parts["schema"], parts["schema"], parts["statistics"], {}, {})
    with pytest.raises(reg.RegistryError, match="schema_dir .* holds no schema.pbtxt"):
        registry.register("m", parts["model_a"], parts["statistics"], parts["statistics"], {}, {})
    # the train split's statistics are the monitoring baseline
    with pytest.raises(reg.RegistryError, match=r"statistics_dir .* holds no "
                                                r"Split-train/FeatureStats.pb \(the train"):
        registry.register("m", parts["model_a"], parts["schema"],
                          os.path.join(parts["statistics"], "Split-eval"), {}, {})
    assert registry.versions("m") == []
    assert io.listdir(store) == []  # nothing written


def test_same_model_twice_is_one_version(store, parts):
    registry = reg.open_registry(store)
    first = register(registry, parts, "model_a", aliases=())
    register(registry, parts, "model_b")
    again = register(registry, parts, "model_a")  # same bytes: no new version, alias moves
    assert again.version == first.version == 1
    assert again.reused
    assert again.aliases == ["champion"]
    assert [v.version for v in registry.versions("penguins")] == [1, 2]
    assert registry.resolve("penguins").version == 1
    assert io.listdir(io.join(store, "penguins", "claims")) == ["000001.json", "000002.json"]
    assert register(registry, parts, "model_a").reused  # aliases already there: no record
    assert len(registry.alias_history("penguins")) == 2


def test_a_failed_push_leaves_a_tombstone_and_no_version(store, parts, tmp_path):
    registry = reg.open_registry(store)
    register(registry, parts, "model_a")
    broken = tmp_path / "broken_stats"
    shutil.copytree(parts["statistics"], broken)
    os.symlink(tmp_path / "nowhere", broken / "dangling")  # copying it fails mid-copy
    with pytest.raises(OSError):
        registry.register("penguins", parts["model_b"], parts["schema"], str(broken),
                          EVALUATION, lineage())
    assert [v.version for v in registry.versions("penguins")] == [1]
    assert registry.resolve("penguins").version == 1  # the champion did not move
    tombstone = io.join(store, "penguins", "versions", "2")
    assert io.listdir(tombstone) == ["version.json"]  # its files are gone
    assert io.read_json(io.join(tombstone, "version.json"))["state"] == "abandoned"
    assert register(registry, parts, "model_b").version == 3  # a number is never reused


def test_listing_ignores_claims_partial_folders_and_tombstones(store, parts):
    registry = reg.open_registry(store)
    register(registry, parts, "model_a")
    model = io.join(store, "penguins")
    # a push in progress: a claim and some files, no manifest
    assert io.create_exclusive(io.join(model, "claims", "000002.json"), b'{"version": 2}')
    io.put_dir(parts["model_b"], io.join(model, "versions", "2", "model"))
    # a folder written before claims existed, never completed
    io.write_json(io.join(model, "versions", "3", "lineage.json"), {})
    # a tombstone
    io.write_json(io.join(model, "versions", "4", "version.json"), {"state": "abandoned"})
    assert [v.version for v in registry.versions("penguins")] == [1]
    assert registry.resolve("penguins", "latest").version == 1
    with pytest.raises(reg.VersionNotFoundError, match=r"versions are \[1\]"):
        registry.resolve("penguins", 2)
    assert register(registry, parts, "model_c").version == 5  # never reuses 2, 3 or 4
    # the claim of 2 is young: a push in progress is left alone
    assert io.listdir(io.join(model, "versions", "2")) == ["model"]


def test_legacy_aliases_file_is_read(store, parts):
    registry = reg.open_registry(store)
    register(registry, parts, "model_a", aliases=())
    register(registry, parts, "model_b", aliases=())
    io.write_json(io.join(store, "penguins", "aliases.json"), {"champion": 1})
    assert registry.resolve("penguins").version == 1
    registry.set_alias("penguins", "blue", 2)
    assert registry.aliases("penguins") == {"champion": 1, "blue": 2}


# --------------------------------------------------------------------------- processes

def _child(root, phases, barrier, results):
    """Runs in a spawned process: each phase starts when every process is ready for it."""
    registry = reg.FolderRegistry(root)
    for phase, (kind, args) in enumerate(phases):
        barrier.wait(120)
        try:
            if kind == "register":
                name, model_dir, schema, stats = args
                v = registry.register(name, model_dir, schema, stats, EVALUATION, lineage())
                out = (v.version, v.reused, v.model_hash)
            elif kind == "aliases":
                alias, versions = args
                for version in versions:
                    registry.set_alias("shared", alias, version)
                out = alias
            elif kind == "cas":
                version, expected = args
                try:
                    registry.compare_and_set_alias("shared", "champion", version, expected)
                    out = ("moved", version)
                except reg.AliasConflictError:
                    out = ("conflict", version)
            else:  # monitor
                out = registry.record_monitoring("shared", 1, {"who": args}, "")
        except BaseException as e:  # reported to the test
            out = ("error", repr(e))
        results.put((phase, out))


def in_processes(root, phases_per_process, timeout=180):
    """Runs :func:`_child` in one spawned process per phase list, phase by phase together;
    returns ``[[result of each process] for each phase]``."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(phases_per_process))
    results = context.Queue()
    processes = [context.Process(target=_child, args=(root, phases, barrier, results))
                 for phases in phases_per_process]
    for p in processes:
        p.start()
    out = [results.get(timeout=timeout)
           for _ in range(sum(len(phases) for phases in phases_per_process))]
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    assert [r for _, r in out if isinstance(r, tuple) and r and r[0] == "error"] == []
    return [[r for phase, r in out if phase == n] for n in range(len(phases_per_process[0]))]


def test_concurrent_processes_lose_nothing(store, parts):
    """Four processes at once, phase by phase: pushing four models, pushing one model,
    moving aliases, a compare-and-set of the champion, recording monitoring entries."""
    registry = reg.open_registry(store)
    for model in ("model_a", "model_b", "model_c", "model_d"):  # versions 1-4, champion 1
        register(registry, parts, model, name="shared", aliases=["champion"] if
                 model == "model_a" else ())
    models = ["model_a", "model_b", "model_c", "model_d"]
    moves = [1, 2, 3, 1, 2]
    phases = [[("register", ("distinct", parts[m], parts["schema"], parts["statistics"])),
               ("register", ("same", parts["model_a"], parts["schema"], parts["statistics"])),
               # two move their own alias, two the same one
               ("aliases", (alias, order)),
               ("cas", (cas_to, 1)),
               ("monitor", i)]
              for i, (m, alias, order, cas_to) in enumerate(zip(
                  models, ["blue", "green", "canary", "canary"],
                  [moves, moves, moves, moves[::-1]], [2, 3, 4, 2]))]
    distinct, same, _, cas, entries = in_processes(store, phases)

    # four models at once: four distinct versions, none lost, each whole
    numbers = sorted(v for v, _, _ in distinct)
    assert len(set(numbers)) == 4 and not any(reused for _, reused, _ in distinct)
    listed = registry.versions("distinct")
    assert [v.version for v in listed] == numbers
    assert {v.model_hash for v in listed} == {io.sha256_tree(parts[m]) for m in models}
    for v in listed:  # its files are the ones its manifest names
        assert tree_hash(v.model_dir) == v.model_hash
        assert tree_hash(v.statistics_dir) == io.sha256_tree(parts["statistics"])
    history = registry.alias_history("distinct")  # every push's alias move is a record
    assert sorted(h["changed"]["champion"]["to"] for h in history) == numbers
    assert registry.aliases("distinct") == {"champion": history[-1]["aliases"]["champion"]}

    # one model four times at once: one version; the losers' numbers are empty tombstones
    assert [v.version for v in registry.versions("same")] == [1]
    assert {v for v, _, _ in same} == {1}
    assert sorted(reused for _, reused, _ in same) == [False, True, True, True]
    assert registry.aliases("same") == {"champion": 1}
    for number in io.listdir(io.join(store, "same", "versions")):
        if number != "1":
            assert io.listdir(io.join(store, "same", "versions", number)) == ["version.json"]

    # alias moves: none lost; each record keeps every alias set before it
    history = registry.alias_history("shared")
    assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
    moved = [a for h in history for a in h["changed"] if a != "champion"]
    # (a move to where the alias already points writes no record)
    assert moved.count("blue") == moved.count("green") == len(moves)
    assert 1 <= moved.count("canary") <= 2 * len(moves)
    for before, after in zip(history, history[1:]):
        assert set(before["aliases"]) <= set(after["aliases"])
    current = registry.aliases("shared")
    assert current["blue"] == current["green"] == moves[-1]
    assert current["canary"] in (moves[-1], moves[0])

    # compare-and-set from version 1: exactly one winner
    winners = [v for what, v in cas if what == "moved"]
    assert len(winners) == 1 and current["champion"] == winners[0]

    # monitoring: four entries, distinct sequence numbers
    recorded = registry.monitoring_history("shared", 1)
    assert [h["seq"] for h in recorded] == [1, 2, 3, 4]
    assert sorted(h["who"] for h in recorded) == [0, 1, 2, 3]
    assert sorted(h["entry"] for h in recorded) == sorted(entries)


KILL_STEPS = ["claimed", "model-written", "files-written", "manifest-written"]

_KILLED_PUSH = textwrap.dedent("""
    import sys
    from kfp_mlops.components._shared import registry as reg
    root, name, model, schema, stats = sys.argv[1:]
    reg.FolderRegistry(root).register(name, model, schema, stats, {}, {})
    print("the push was not killed")
""")


def test_a_push_killed_at_any_step_leaves_the_registry_consistent(store, parts):
    """A real push per step, each of its own model, killed with SIGKILL at that step."""
    registry = reg.open_registry(store)
    children = {}
    for step in KILL_STEPS:
        register(registry, parts, "model_a", name=step)  # version 1, the champion
        env = dict(os.environ, **{reg.FAULT_ENV: step}, PYTHONPATH=os.pathsep.join(
            [ROOT, os.environ.get("PYTHONPATH", "")]))
        children[step] = subprocess.Popen(
            [sys.executable, "-c", _KILLED_PUSH, store, step, parts["model_b"], parts["schema"],
             parts["statistics"]], env=env, cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
    for step, child in children.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == -9, (step, out, err[-2000:])

    model_b = io.sha256_tree(parts["model_b"])
    for step in KILL_STEPS:
        complete = step == "manifest-written"
        listed = registry.versions(step)
        assert [v.version for v in listed] == ([1, 2] if complete else [1]), step
        for v in listed:
            assert tree_hash(v.model_dir) == v.model_hash
        assert registry.resolve(step).version == 1, step  # the champion did not move
        assert set(registry.aliases(step).values()) <= {v.version for v in listed}

        # a push with the default grace period leaves a young claim alone ...
        if not complete:
            other = register(registry, parts, "model_c", name=step, aliases=())
            assert other.version == 3
            assert io.read_json(io.join(store, step, "claims", "000002.json"))["version"] == 2
            assert reg.VERSION_FILE not in io.listdir(io.join(store, step, "versions", "2"))
        # ... and once it is stale, the next push abandons it, cleans up and succeeds
        again = register(reg.FolderRegistry(store, stale_after=0), parts, "model_b", name=step)
        assert again.model_hash == model_b and registry.resolve(step).version == again.version
        if complete:
            assert again.reused and again.version == 2
        else:
            assert not again.reused and again.version == 4
            assert io.listdir(io.join(store, step, "versions", "2")) == ["version.json"]
            assert io.read_json(io.join(store, step, "versions", "2", "version.json"))[
                "state"] == "abandoned"


def test_a_slow_push_abandoned_as_stale_registers_nothing(store, parts, monkeypatch):
    """The owner of a claim declared stale finds its manifest taken by the tombstone."""
    registry = reg.open_registry(store)
    real = folder_registry.write_companions
    calls = []

    def slow(target, *args):
        real(target, *args)
        calls.append(target)
        if len(calls) == 1:  # meanwhile another push decides this claim is stale
            register(reg.FolderRegistry(store, stale_after=0), parts, "model_c", aliases=())

    monkeypatch.setattr(folder_registry, "write_companions", slow)
    with pytest.raises(reg.AbandonedError, match="version 1 was declared abandoned"):
        register(registry, parts, "model_b")
    monkeypatch.setattr(folder_registry, "write_companions", real)
    assert [v.version for v in registry.versions("penguins")] == [2]
    assert registry.versions("penguins")[0].model_hash == io.sha256_tree(parts["model_c"])
    assert io.listdir(io.join(store, "penguins", "versions", "1")) == ["version.json"]
