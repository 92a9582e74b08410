"""The training pipeline end to end with kfp.local on the bundled data, through the
kfp-mlops command as a user runs it, then the registry it wrote checked part by part."""
import json
import os

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from tests.conftest import PENGUINS_CSV
from tests.pipelines.test_launcher_contract import assert_run_passes_the_contract
from tests.pipelines.test_local_run import run_cli

pytestmark = pytest.mark.slow

BASE = ["--param", f"data_uri={PENGUINS_CSV}", "--param", "label_column=species",
        "--param", "model_name=penguins"]


def train(tmp_path, registry, name, *extra):
    summary_path = tmp_path / f"{name}.json"
    result = run_cli("run", "training", "--local", *BASE, "--param", f"registry_uri={registry}",
                     "--output-dir", str(tmp_path / name), "--summary-json", str(summary_path),
                     *extra)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads(summary_path.read_text())
    return summary, {t["name"]: t for t in summary["tasks"]}, result.stdout


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("training_run")
    registry = str(tmp_path / "registry")
    summary, tasks, stdout = train(tmp_path, registry, "first",
                                   "--param", 'thresholds={"accuracy": 0.9}',
                                   "--param", 'slice_columns=["island"]')
    return tmp_path, registry, summary, tasks, stdout


def test_every_task_succeeds_and_the_model_is_registered(first_run):
    _, registry, summary, tasks, stdout = first_run
    assert summary["status"] == "SUCCESS"
    assert list(tasks) == ["ingest", "validate", "train", "evaluate", "push"]
    assert all(t["status"] == "SUCCESS" and t["seconds"] > 0 for t in tasks.values())
    assert tasks["evaluate"]["outputs"]["blessed"] is True
    assert tasks["push"]["outputs"]["pushed"] is True and tasks["push"]["outputs"]["version"] == "1"
    evaluation = tasks["evaluate"]["outputs"]["evaluation"]["metadata"]
    assert evaluation["accuracy"] >= 0.9
    # the printed ending names the version, the metrics, the decision and where things are
    assert "Pipeline training: SUCCESS" in stdout
    assert "push: pushed=yes, champion=yes (version 1 of penguins in" in stdout
    assert "passed threshold: accuracy" in stdout
    assert tasks["train"]["outputs"]["model"]["uri"] in stdout


def test_first_run_without_a_champion_passes_the_launcher_contract(first_run):
    tmp_path, _, summary, tasks, _ = first_run
    blessing = tasks["evaluate"]["outputs"]["blessing"]["metadata"]
    assert any("no champion" in r for r in blessing["reasons"])
    assert "champion_version" not in blessing          # absent, not null
    assert summary["error"] == "" and all(t["error"] == "" for t in tasks.values())
    assert_run_passes_the_contract("training", tmp_path / "first", list(tasks))


def test_registry_holds_version_aliases_schema_statistics_evaluation_lineage(first_run):
    _, registry, summary, tasks, _ = first_run
    version = reg.LocalRegistry(registry).resolve("penguins", "champion")
    assert version.version == 1 and "champion" in version.aliases
    assert os.path.isfile(os.path.join(version.model_dir, "saved_model.pb"))

    import tensorflow_data_validation as tfdv
    schema = tfdv.load_schema_text(version.schema_path)
    assert "species" in {f.name for f in schema.feature}
    stats = tfdv.load_stats_binary(os.path.join(version.statistics_dir, "Split-train",
                                                "FeatureStats.pb"))
    dataset = tasks["ingest"]["outputs"]["dataset"]["metadata"]
    assert stats.datasets[0].num_examples == dataset["splits"]["train"]
    assert version.evaluation["metrics"]["accuracy"] == pytest.approx(
        tasks["evaluate"]["outputs"]["evaluation"]["metadata"]["accuracy"])
    assert version.lineage["data_content_hash"] == dataset["content_hash"]
    assert version.lineage["pipeline_run"].startswith("training-")

    # push's Google Cloud artifacts came through kfp.local: the registered SavedModel inside
    # the artifact, at the uri KFP assigned under the pipeline root
    outputs = tasks["push"]["outputs"]
    container = outputs["unmanaged_container_model"]
    assert container["uri"].startswith(summary["pipeline_root"])
    assert io.sha256_tree(container["uri"]) == version.model_hash
    assert container["metadata"] == {"predictSchemata": {},
                                     "containerSpec": {"imageUri": reg.DEFAULT_SERVING_IMAGE}}
    assert outputs["vertex_model"]["metadata"]["available"] is False
    assert "resourceName" not in outputs["vertex_model"]["metadata"]  # a local registry


def test_push_made_the_model_card_of_the_version_the_run_registered(first_run, tmp_path):
    """The card push wrote in the run: in the version folder (HTML and Markdown), as push's
    HTML artifact, with the run's own numbers, and laid out in a browser."""
    from kfp_mlops.components._shared import html_report
    from kfp_mlops.components.push import model_card
    from tests.support import browser

    _, registry, _, tasks, _ = first_run
    version = reg.FolderRegistry(registry).resolve("penguins", 1)
    html_path = os.path.join(version.uri, model_card.HTML_FILE)
    html = open(html_path, encoding="utf-8").read()
    md = open(os.path.join(version.uri, model_card.MARKDOWN_FILE), encoding="utf-8").read()
    artifact = tasks["push"]["outputs"]["model_card"]
    assert artifact["metadata"]["registry_uri"] == html_path
    assert open(artifact["uri"], encoding="utf-8").read() == html
    for section in model_card.SECTIONS:
        assert f">{section}</h2>" in html and f"\n## {section}\n" in md, section
    logged = tasks["evaluate"]["outputs"]["evaluation"]["metadata"]
    for metric, value in version.evaluation["metrics"].items():
        assert logged[metric] == pytest.approx(value)
        assert f"| {metric} | {html_report.fmt(value)} |" in md
        assert f"<td class='l'>{metric}</td><td>{html_report.fmt(value)}</td>" in html
    for value, m in version.evaluation["slices"]["island"].items():
        assert f"| {value}" in md and f"| {m['count']:,} |" in md
    assert version.model_hash in md and version.lineage["data_content_hash"] in md
    assert version.lineage["pipeline_run"] and version.lineage["pipeline_run"] in md
    seen = browser.look_at(html_path, str(tmp_path / "card.png"))
    browser.assert_charts_drawn(seen, 1)


def test_second_run_compares_with_the_champion(first_run):
    tmp_path, registry, _, _, _ = first_run
    _, tasks, stdout = train(tmp_path, registry, "second")
    reasons = tasks["evaluate"]["outputs"]["blessing"]["metadata"]["reasons"]
    assert any(r.startswith("passed champion comparison: accuracy") for r in reasons)
    assert tasks["evaluate"]["outputs"]["blessing"]["metadata"]["champion_version"] == "1"
    assert_run_passes_the_contract("training", tmp_path / "second", list(tasks))
    # the same data and seed train the same model: no second version
    assert tasks["push"]["outputs"]["version"] == "1"
    assert "already registered, so no new version" in stdout
    assert [v.version for v in reg.LocalRegistry(registry).versions("penguins")] == [1]


def test_worse_challenger_is_not_pushed_and_champion_stays(first_run):
    tmp_path, registry, _, _, _ = first_run
    _, tasks, stdout = train(tmp_path, registry, "weak", "--param", "epochs=1",
                             "--param", "learning_rate=0.00001", "--param", "hidden_units=[2]")
    assert tasks["evaluate"]["outputs"]["blessed"] is False
    assert tasks["push"]["outputs"]["pushed"] is False
    assert "push: pushed=no" in stdout
    for name in ("vertex_model", "unmanaged_container_model"):
        assert tasks["push"]["outputs"][name]["metadata"]["available"] is False
    assert any(r.startswith("FAILED champion comparison")
               for r in tasks["evaluate"]["outputs"]["blessing"]["metadata"]["reasons"])
    versions = reg.LocalRegistry(registry).versions("penguins")
    assert [v.version for v in versions] == [1]
    assert reg.LocalRegistry(registry).resolve("penguins").version == 1


def test_two_training_runs_at_once_never_regress_the_champion(tmp_path):
    """Two `kfp-mlops run training` processes at once on one local registry, on different
    data (so the models differ): each champion move starts from the champion that version
    was compared with, and each push's decisions say what became of the champion."""
    import subprocess
    import sys

    from tests.pipelines.test_local_run import ROOT

    rows = open(PENGUINS_CSV).read().splitlines()
    registry = str(tmp_path / "registry")
    runs = {}
    for name, keep in (("a", rows[1:]), ("b", rows[1:][::3] + rows[1:][1::3])):
        data = tmp_path / f"{name}.csv"
        data.write_text("\n".join([rows[0], *keep]) + "\n")
        args = ["run", "training", "--local", "--param", f"data_uri={data}",
                "--param", "label_column=species", "--param", "model_name=penguins",
                "--param", f"registry_uri={registry}", "--output-dir", str(tmp_path / name),
                "--summary-json", str(tmp_path / f"{name}.json")]
        runs[name] = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "kfp-mlops"), *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = {name: p.communicate(timeout=600)[0] for name, p in runs.items()}
    for name, p in runs.items():
        assert p.returncode == 0, outputs[name][-4000:]

    local = reg.LocalRegistry(registry)
    pushed = {}
    for name, stdout in outputs.items():
        tasks = {t["name"]: t for t in json.loads((tmp_path / f"{name}.json").read_text())["tasks"]}
        meta = tasks["push"]["outputs"]["pushed_model"]["metadata"]
        if not meta["pushed"]:
            continue
        pushed[name] = meta
        # the outcome for the champion is the first of push's decisions, in the summary
        assert meta["reasons"][0] == meta["champion_reason"]
        assert f"      - {meta['champion_reason']}" in stdout
        blessing = tasks["evaluate"]["outputs"]["blessing"]["metadata"]
        compared = blessing.get("champion_version")
        if meta["champion"]:
            assert meta["champion_reason"].startswith("champion=yes")
        else:  # only because the champion moved away from what evaluate compared with
            assert meta["champion_reason"].startswith(
                f"champion=no: champion moved from "
                f"{'no version' if compared is None else 'version ' + compared} to version ")
    assert pushed  # the first run to push always has a blessing against what it found
    moves = [h["changed"]["champion"] for h in local.alias_history("penguins")
             if "champion" in h["changed"]]
    for move in moves:
        previous = local.resolve("penguins", move["to"]).lineage["previous_champion"]
        assert move["from"] == (None if previous is None else int(previous["version"]))
    champion = local.aliases("penguins")["champion"]
    assert [m["to"] for m in moves][-1] == champion
    assert sum(bool(m["champion"]) for m in pushed.values()) == len(moves)
