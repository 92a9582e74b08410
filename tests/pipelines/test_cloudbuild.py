"""cloudbuild.yaml: it parses, every substitution it uses is declared, and every step runs a
command of this repository that exists and works with sample substitution values."""
import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

from kfp_mlops import images
from kfp_mlops.pipelines import catalog
from tests.pipelines.cloud_helpers import run_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILTIN = {"PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "COMMIT_SHA", "SHORT_SHA",
           "REVISION_ID", "BRANCH_NAME", "TAG_NAME", "REF_NAME", "REPO_NAME", "REPO_FULL_NAME",
           "TRIGGER_NAME", "SERVICE_ACCOUNT_EMAIL"}
KFP_MLOPS = "/workspace/.venv/bin/kfp-mlops"
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")

SAMPLE = {
    "PROJECT_ID": "my-project", "SHORT_SHA": "abc1234", "TAG_NAME": "",
    "_SUBMIT": "true", "_PIPELINE_ROOT": "gs://my-bucket/pipeline-root",
    "_SERVICE_ACCOUNT": "runner@my-project.iam.gserviceaccount.com",
    "_DATA_URI": "gs://my-bucket/data/penguins.csv", "_LABEL_COLUMN": "species",
    "_MODEL_NAME": "penguins", "_MODEL_REGISTRY_URI": "vertex://projects/my-project/locations/europe-west4",
}


@pytest.fixture(scope="module")
def build():
    with open(ROOT / "cloudbuild.yaml") as f:
        return yaml.safe_load(f)


def _steps(build):
    return {step["id"]: step for step in build["steps"]}


def _substitute(text, values):
    return _VAR.sub(lambda m: values[m.group(1) or m.group(2)], text)


def _args(step, build, **overrides):
    values = {**{k: str(v) for k, v in build["substitutions"].items()}, **SAMPLE, **overrides}
    return [_substitute(a, values) for a in step.get("args", [])]


def test_steps_in_order(build):
    assert list(_steps(build)) == ["test", "images", "compile", "publish", "submit"]
    steps = _steps(build)
    assert steps["publish"]["waitFor"] == ["images", "compile"]
    assert steps["submit"]["waitFor"] == ["publish"]


def test_every_substitution_is_declared_and_used(build):
    text = (ROOT / "cloudbuild.yaml").read_text()
    body = yaml.safe_dump({k: v for k, v in build.items() if k != "substitutions"})
    used = {m.group(1) or m.group(2) for m in _VAR.finditer(body)}
    declared = set(build["substitutions"])
    assert all(name.startswith("_") for name in declared)
    assert {u for u in used if u.startswith("_")} <= declared, used - declared - BUILTIN
    assert used - declared <= BUILTIN, used - declared - BUILTIN
    assert declared <= used, f"declared but never used: {declared - used}"
    for name in declared:  # each documented by a comment above it
        assert re.search(rf"#[^\n]*\n(\s*#[^\n]*\n)*\s*(_\w+: [^\n]*\n\s*)*{name}:", text), name


def test_step_images_are_pinned(build):
    for step in build["steps"]:
        assert re.search(r":\d+(\.\d+)+(-[a-z]+)?$", step["name"]), step["name"]


def test_test_step_is_a_make_target(build):
    step = _steps(build)["test"]
    assert step["entrypoint"] == "make"
    result = subprocess.run(["make", "-n", *step["args"]], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_every_kfp_mlops_step_names_an_existing_command(build, capsys):
    commands = [s["args"][0] for s in build["steps"] if s.get("entrypoint") == KFP_MLOPS]
    assert commands == ["compile", "publish"]
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            run_cli([command, "--help"])
        assert exit_info.value.code == 0
    capsys.readouterr()


def test_every_script_step_exists(build):
    scripts = [s["args"][0] for s in build["steps"] if s.get("entrypoint") == "bash"]
    assert scripts == ["images/build.sh", ".ci/submit_if.sh"]
    for script in scripts:
        path = ROOT / script
        assert path.is_file() and os.access(path, os.X_OK), script


def test_images_step_builds_both_images_at_the_commit(build):
    step = _steps(build)["images"]
    args = _args(step, build, TAG_NAME="v0.1.0")
    result = subprocess.run(["bash", *args, "--print"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    registry = "europe-west4-docker.pkg.dev/my-project/kfp-mlops"
    for image in images.IMAGES:
        assert f"docker push {images.uri(image, registry, 'abc1234')}" in result.stdout
        assert f"docker push {images.uri(image, registry, 'v0.1.0')}" in result.stdout
    branch_build = subprocess.run(["bash", *_args(step, build), "--print"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
    assert branch_build.returncode == 0 and "v0.1.0" not in branch_build.stdout


def test_compile_step_runs_here(build, tmp_path):
    args = _args(_steps(build)["compile"], build)
    out = tmp_path / "pipelines"
    args[args.index("--output-dir") + 1] = str(out)
    assert run_cli(args) == 0
    registry = "europe-west4-docker.pkg.dev/my-project/kfp-mlops"
    for spec in out.glob("*.yaml"):
        executors = yaml.safe_load(spec.read_text())["deploymentSpec"]["executors"]
        found = {e["container"]["image"] for e in executors.values()}
        assert found and all(i.startswith(registry + "/") and i.endswith(":abc1234")
                             for i in found), found
    assert sorted(p.stem for p in out.glob("*.yaml")) == catalog.names()


def test_publish_step_would_upload_at_the_commit(build, tmp_path, capsys):
    args = _args(_steps(build)["publish"], build)
    assert run_cli(args + ["--dry-run", "--spec-dir", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["client"]["host"] == \
        "https://europe-west4-kfp.pkg.dev/my-project/kfp-mlops-templates"
    assert all(u["tags"][1:] == ["latest", "abc1234"] for u in printed["uploads"])


def test_submit_step_skips_unless_asked(build, tmp_path):
    args = _args(_steps(build)["submit"], build, _SUBMIT="false")
    result = subprocess.run(["bash", str(ROOT / args[0]), *args[1:]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "submit skipped" in result.stdout


def test_submit_step_sends_the_training_run(build, tmp_path, capsys):
    args = _args(_steps(build)["submit"], build)
    assert args[:3] == [".ci/submit_if.sh", "true", "training"]
    extra = ["--dry-run", "--spec-dir", str(tmp_path)]
    # through the script and the installed command, as Cloud Build runs it
    result = subprocess.run(["bash", str(ROOT / args[0]), *args[1:], *extra],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    job = printed["job"]
    assert job["parameter_values"] == {
        "data_uri": "gs://my-bucket/data/penguins.csv", "label_column": "species",
        "model_name": "penguins",
        "registry_uri": "vertex://projects/my-project/locations/europe-west4"}
    assert job["labels"]["git-commit"] == "abc1234"
    assert job["pipeline_root"] == "gs://my-bucket/pipeline-root"
    assert printed["submit"] == {"service_account": "runner@my-project.iam.gserviceaccount.com",
                                 "experiment": None}
    assert job["enable_caching"] is None  # the compiled per-task settings


def test_submit_step_with_defaults_fails_clearly(build, tmp_path, capsys):
    defaults = {k: str(v) for k, v in build["substitutions"].items() if k != "_SUBMIT"}
    args = _args(_steps(build)["submit"], build, **defaults)
    assert run_cli(["submit", *args[2:], "--dry-run", "--spec-dir", str(tmp_path)]) == 2
    assert "given empty" in capsys.readouterr().err
