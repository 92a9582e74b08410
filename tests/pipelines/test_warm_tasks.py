"""``--warm-tasks``: every task forked from one server that imported the tasks' libraries,
holding to what a cold task does (kfp_mlops.pipelines.warm_tasks). Real runs: the training
pipeline warm and cold take the same decisions, and a warm task's crash is reported as a
cold one's. The kill tests of a warm run are in test_signals.py."""
import json
import os
import sys

import pytest

from kfp_mlops.pipelines import local, warm_tasks
from tests.conftest import PENGUINS_CSV
from tests.pipelines.test_launcher_contract import assert_run_passes_the_contract
from tests.pipelines.test_local_run import run_cli
from tests.pipelines.test_signals import alive
from tests.support.crashing_pipeline import crashing

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="fork, SCM_RIGHTS and pidfd as on Linux")

# The Makefile's run target.
MAKE_RUN = ["--param", f"data_uri={PENGUINS_CSV}", "--param", "label_column=species",
            "--param", "model_name=penguins",
            "--param", 'thresholds={"accuracy": 0.9, "auc": 0.95}',
            "--param", 'slice_columns=["island"]']


def _children_of(pid: int):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found


def test_only_the_executor_line_is_handed_to_the_server(monkeypatch):
    command = ["sh", "-ec", f'x=1\n_KFP_RUNTIME=true exec {sys.executable} -m '
               'kfp.dsl.executor_main --component_module_path "$p" "$@"\n', "src",
               "--executor_input", "{}"]
    assert warm_tasks.through_server(command) == command          # no server: cold
    monkeypatch.setattr(warm_tasks, "_SOCKET", ["/tmp/s.sock"])
    warm = warm_tasks.through_server(command)
    assert warm[:2] == command[:2] and warm[3:] == command[3:]
    assert warm[2] == command[2].replace(
        f"exec {sys.executable} -m", f"exec {sys.executable} -E -S {warm_tasks._CLIENT} "
        "/tmp/s.sock -m")


def test_warm_needs_the_subprocess_runner(tmp_path):
    with pytest.raises(ValueError, match="--runner subprocess"):
        local.run_pipeline(crashing, {"pid_dir": str(tmp_path)}, str(tmp_path / "out"),
                           runner="docker", warm=True)


def _run_crashing(tmp_path, mode):
    pid_dir = tmp_path / mode
    pid_dir.mkdir()
    summary = local.run_pipeline(crashing, {"pid_dir": str(pid_dir)},
                                 str(tmp_path / f"out-{mode}"), warm=mode == "warm")
    pids = {name: int((pid_dir / name).read_text()) for name in ("exits", "raises", "killed")}
    return summary, pids


def test_a_warm_tasks_crash_is_reported_as_a_cold_ones(tmp_path):
    # this process's own children of other tests (session servers) are not the run's
    before = set(_children_of(os.getpid()))
    cold, _ = _run_crashing(tmp_path, "cold")
    warm, pids = _run_crashing(tmp_path, "warm")
    outcome = {t.name: (t.status, t.error) for t in cold.tasks}
    assert outcome == {t.name: (t.status, t.error) for t in warm.tasks}
    assert outcome["raises"] == (
        "FAILURE", "ValueError: column 'tips' not found in data.csv; columns are: a, b")
    assert outcome["exits"] == (
        "FAILURE", "failed; the last line of its log: about to leave without a word")
    assert outcome["killed"][0] == "FAILURE"
    assert warm.status == cold.status == "FAILURE"
    # every task and the server are gone: nothing of the run is left
    assert not any(alive(pid) for pid in pids.values())
    assert set(_children_of(os.getpid())) - before == set()


@pytest.mark.slow
def test_a_warm_training_run_decides_as_a_cold_one(tmp_path):
    runs = {}
    for mode in ("cold", "warm"):
        summary_path = tmp_path / f"{mode}.json"
        result = run_cli("run", "training", "--local", *MAKE_RUN,
                         *(["--warm-tasks"] if mode == "warm" else []),
                         "--param", f"registry_uri={tmp_path / mode / 'registry'}",
                         "--output-dir", str(tmp_path / mode / "out"),
                         "--summary-json", str(summary_path))
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        runs[mode] = (json.loads(summary_path.read_text()), result.stdout)

    def decisions(summary):
        tasks = {t["name"]: t for t in summary["tasks"]}
        meta = {name: {k: v.get("metadata", {}) for k, v in t["outputs"].items()
                       if isinstance(v, dict)} for name, t in tasks.items()}
        return {
            "statuses": {n: t["status"] for n, t in tasks.items()},
            "passed": meta["validate"]["anomalies"].get("passed"),
            "blessing": (meta["evaluate"]["blessing"]["blessed"],
                         meta["evaluate"]["blessing"]["reasons"]),
            "pushed": (tasks["push"]["outputs"]["pushed"], tasks["push"]["outputs"]["version"],
                       meta["push"]["pushed_model"]["reasons"]),
            "content_hash": meta["ingest"]["dataset"]["content_hash"],
            "accuracy": round(meta["evaluate"]["evaluation"]["accuracy"], 2),
        }

    cold, warm = decisions(runs["cold"][0]), decisions(runs["warm"][0])
    assert warm == cold
    assert warm["blessing"][0] is True and warm["pushed"][:2] == (True, "1")
    # every task's own log passed through the run's stream, as cold
    for _, stdout in runs.values():
        assert stdout.count("component code started") == 6
        assert stdout.count("Wrote executor output file") == 6
    assert_run_passes_the_contract("training", tmp_path / "warm" / "out",
                                   [t["name"] for t in runs["warm"][0]["tasks"]])
