"""The README's whole loop, run as written: train, a second experiment, compare, score,
labels that hold, labels that show a worse model (alert, retrain), roll back, model card.

The block is the README's ``<!-- run: the whole loop -->`` shell block, run with bash in a
folder laid out like a clone, after the recipe ``make run`` runs (read from the Makefile), so
what a user copies is what is tested. Every command must succeed (``set -euo pipefail``);
then the test reads what the loop left behind: the tracking store, the published
predictions, the performance entries of the monitoring history, the alert, the retraining
run, the audit log and the model card.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.predict import predictions as fmt
from kfp_mlops.components.track import core as track
from tests.test_readme_examples import ROOT, blocks, clone_like

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

LOOP = "the whole loop"


def make_run_recipe() -> str:
    """The command ``make run`` runs, with the Makefile's defaults filled in."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^run: \$\(STAMP\)\n((?:\t.*\n)+)", text, re.M).group(1)
    command = " ".join(line.strip().rstrip("\\").strip() for line in recipe.splitlines())
    for name, value in (("VENV", ".venv"), ("REGISTRY", "local_registry"),
                        ("RUN_DIR", "local_outputs")):
        command = command.replace(f"$({name})", value)
    assert "$(" not in command, command
    return command


def loop_block() -> str:
    found = [b for b in blocks("README.md") if b.marker == "run" and b.argument == LOOP]
    assert len(found) == 1, f"README.md needs one <!-- run: {LOOP} --> block"
    return found[0].code


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    folder = clone_like(tmp_path_factory.mktemp("clone"))
    (folder / ".venv").symlink_to(pathlib.Path(sys.executable).parent.parent,
                                  target_is_directory=True)
    script = "set -euo pipefail\n" + make_run_recipe() + "\n" + loop_block()
    env = dict(os.environ, NO_COLOR="1")
    env.pop("ALERT_WEBHOOK_URL", None)
    done = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=1400)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return folder, done.stdout, output


def test_both_experiments_are_tracked_and_compared(loop):
    folder, stdout, _ = loop
    runs = track.read_runs(track.default_tracking_uri(str(folder / "local_outputs")),
                           "penguins")
    # make run, the second experiment, and step 4's retraining, which records in the
    # monitoring run's store
    assert len(runs) == 3
    assert [r["params"].get("epochs") for r in runs] == ["30", "60", "30"]
    assert all("accuracy" in r["metrics"] for r in runs)
    assert "2 run(s)" in stdout
    table = stdout[stdout.index("2 run(s)"):]
    assert re.search(r"^\s+epochs\s+30\s+60\s*$", table, re.M), table[:2000]
    after = stdout[stdout.index("performance: degraded=yes"):]
    assert "3 run(s)" in after


def test_the_batch_is_scored_by_the_champion_and_published(loop):
    folder, _, _ = loop
    published = str(folder / "local_scores" / "serving-1")
    metadata = fmt.read_metadata(published)
    frame = fmt.read_pandas(published)
    assert len(frame) == metadata["rows"] == 150
    assert metadata["model_version"] == "2" and set(frame[fmt.MODEL_VERSION]) == {"2"}
    assert list(frame[fmt.ROW_KEY]) == list(range(150))


def test_good_labels_hold_and_shifted_labels_alert_and_retrain(loop):
    folder, stdout, _ = loop
    holds = stdout.index("performance: degraded=no")
    degraded = stdout.index("performance: degraded=yes")
    assert holds < degraded
    after = stdout[degraded:]
    assert "alert: degraded=yes" in after and "retrain: started=yes" in after
    assert re.search(r"accuracy DEGRADED: 0\.\d+ on the labelled batch vs 1\.0000", after)
    history = reg.open_registry(str(folder / "local_registry")).monitoring_history(
        "penguins", 2)
    kinds = [(entry.get("kind"), entry.get("degraded")) for entry in history]
    assert kinds == [("performance", False), ("performance", True)], kinds


def test_rollback_moves_champion_back_with_an_audit_entry(loop):
    folder, stdout, _ = loop
    registry = reg.open_registry(str(folder / "local_registry"))
    assert registry.resolve("penguins").version == 2
    log = registry.audit_log("penguins")
    moves = [(e["from"], e["to"], e["operation"]) for e in log]
    # make run -> 1, the second experiment -> 2, the retraining's push -> 1, rollback -> 2
    assert moves == [(None, 1, "push"), (1, 2, "push"), (2, 1, "push"), (1, 2, "rollback")]
    assert log[-1]["reason"] == "the retrained model was trained on the data that no longer holds"
    assert "alias champion moved from version 1 to version 2" in stdout


def test_the_champion_has_its_model_card(loop):
    folder, _, _ = loop
    card = (folder / "local_outputs" / "penguins-champion.md").read_text()
    assert card.startswith("# Model card: penguins version 2")
    for version in (1, 2):
        version_dir = folder / "local_registry" / "penguins" / "versions" / str(version)
        assert (version_dir / "model_card.html").is_file()
        assert (version_dir / "model_card.md").is_file()
