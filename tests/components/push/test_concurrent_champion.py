"""Two training runs of one model, each push a real process, on a local folder and on the
S3 and Cloud Storage servers on loopback: the champion never moves from a version other
than the one the new version was compared with, and no alias update is lost."""
import multiprocessing
import os
import shutil

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.push import core
from tests.components.push.conftest import write_blessing


@pytest.fixture
def registry_uri(store_root):
    """A fresh registry on each back end (``store_root``: local, s3://, gs://)."""
    return store_root.rstrip("/") + "/registry"


def _push(kwargs, barrier, results):
    """Runs in a spawned process: one push (after ``barrier``, when there is one)."""
    if barrier is not None:
        barrier.wait(120)
    try:
        r = core.push(**kwargs)
        results.put((kwargs["pipeline_run"], r.version, r.champion, r.champion_reason,
                     r.aliases))
    except BaseException as e:  # reported to the test
        results.put((kwargs["pipeline_run"], "error", repr(e), "", []))


def in_processes(pushes, together: bool):
    """Runs each push in its own spawned process: one after the other, or all released at
    once by a barrier. Returns ``{pipeline_run: (version, champion, reason, aliases)}``."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(pushes)) if together else None
    results = context.Queue()
    out = {}
    processes = []
    for kwargs in pushes:
        p = context.Process(target=_push, args=(kwargs, barrier, results))
        p.start()
        processes.append(p)
        if not together:  # this one completes before the next starts
            run, *rest = results.get(timeout=180)
            out[run] = tuple(rest)
            p.join(30)
    for _ in range(len(pushes) - len(out)):
        run, *rest = results.get(timeout=180)
        out[run] = tuple(rest)
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    assert [r for r in out.values() if r[0] == "error"] == []
    return out


def model_copy(inputs, tmp_path, name):
    """A model whose bytes differ from every other one (so it becomes a version of its own)."""
    path = tmp_path / name
    shutil.copytree(inputs["model"], path)
    (path / "assets.extra" / "run.txt").write_text(name)
    return str(path)


def push_args(inputs, registry_uri, model_dir, blessing_dir, run):
    return dict(model_dir=model_dir, blessing_dir=blessing_dir, schema_dir=inputs["schema"],
                statistics_dir=inputs["statistics"], registry_uri=registry_uri,
                model_name="penguins", dataset_info=core.dataset_info(inputs["dataset"]),
                pipeline_run=run, aliases=["champion", f"{run}"])


def assert_champion_moved_only_from_the_compared_version(registry_uri):
    """Every record that moved champion to a version moved it from the champion that
    version's blessing was compared with (its lineage's ``previous_champion``)."""
    registry = reg.open_registry(registry_uri)
    moves = [h["changed"]["champion"] for h in registry.alias_history("penguins")
             if "champion" in h["changed"]]
    for move in moves:
        compared = registry.resolve("penguins", move["to"]).lineage["previous_champion"]
        assert move["from"] == (None if compared is None else int(compared["version"]))
    return moves


def test_a_stale_blessing_never_takes_the_champion(inputs, registry_uri, tmp_path):
    """A and B were both compared with champion 1; A (better) pushes first and takes it;
    then B pushes with its stale blessing: registered as version 3, champion stays at 2."""
    registry = reg.open_registry(registry_uri)
    first = core.push(inputs["model"], inputs["blessed"], inputs["schema"],
                      inputs["statistics"], registry_uri, "penguins")
    assert first.champion and first.version == "1"
    blessing_a = write_blessing(str(tmp_path / "blessing_a"), True, ["a vs 1"], 1, 0.95)
    blessing_b = write_blessing(str(tmp_path / "blessing_b"), True, ["b vs 1"], 1, 0.92)
    out = in_processes([
        push_args(inputs, registry_uri, model_copy(inputs, tmp_path, "a"), blessing_a, "run-a"),
        push_args(inputs, registry_uri, model_copy(inputs, tmp_path, "b"), blessing_b, "run-b"),
    ], together=False)
    assert out["run-a"] == ("2", True, "champion=yes: champion moved from version 1 to 2, "
                            "the version evaluate compared with (compare-and-set)",
                            ["champion", "run-a"])
    version, champion, reason, aliases = out["run-b"]
    assert (version, champion, aliases) == ("3", False, ["run-b"])
    assert reason.startswith("champion=no: champion moved from version 1 to version 2 since "
                             "evaluation (another run); version 3 was compared with version "
                             "1 only")
    assert registry.aliases("penguins") == {"champion": 2, "run-a": 2, "run-b": 3}
    assert [v.version for v in registry.versions("penguins")] == [1, 2, 3]
    # version 3 stays registered for audit and rollback, with what it was blessed with
    assert registry.resolve("penguins", 3).lineage["previous_champion"]["version"] == "1"
    assert assert_champion_moved_only_from_the_compared_version(registry_uri) == [
        {"from": None, "to": 1}, {"from": 1, "to": 2}]


def test_two_pushes_at_once_one_champion(inputs, registry_uri, tmp_path):
    """Both compared with champion 1, released together by a barrier: exactly one takes
    the champion from 1; the other is registered without it and says where it went."""
    registry = reg.open_registry(registry_uri)
    core.push(inputs["model"], inputs["blessed"], inputs["schema"], inputs["statistics"],
              registry_uri, "penguins")
    pushes = [push_args(inputs, registry_uri, model_copy(inputs, tmp_path, run),
                        write_blessing(str(tmp_path / f"blessing_{run}"), True, [run], 1), run)
              for run in ("run-a", "run-b")]
    out = in_processes(pushes, together=True)
    winners = [run for run, (_, champion, _, _) in out.items() if champion]
    assert len(winners) == 1
    winner, loser = winners[0], ({"run-a", "run-b"} - set(winners)).pop()
    won, lost = out[winner][0], out[loser][0]
    assert {won, lost} == {"2", "3"}
    assert out[loser][2].startswith(f"champion=no: champion moved from version 1 to version "
                                    f"{won} since evaluation")
    # no alias update lost: each push's own alias, and champion on the winner
    assert registry.aliases("penguins") == {"champion": int(won), winner: int(won),
                                            loser: int(lost)}
    assert assert_champion_moved_only_from_the_compared_version(registry_uri) == [
        {"from": None, "to": 1}, {"from": 1, "to": int(won)}]
    for run, (version, _, _, _) in out.items():  # both versions whole and listed
        with io.local_copy(registry.resolve("penguins", int(version)).model_dir) as local:
            assert open(os.path.join(local, "assets.extra", "run.txt")).read() == run
