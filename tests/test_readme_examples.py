"""Every code example of the READMEs runs as written.

Python blocks run, in a temporary folder laid out like a clone (``components/`` and
``pipelines/`` linked in, so ``pipelines/data/penguins.csv`` is the bundled data):

* the top README's blocks, one after the other in one namespace;
* the component READMEs' blocks as one walk-through in pipeline order (ingest writes
  ``work/dataset``, validate reads it, ... alert reads monitor's report), each README in a
  namespace of its own, each pipeline a block defines compiled.

Conventions, visible in the README source on the line before a block:

* ``<!-- not run: REASON -->``: the block cannot run here (Google Cloud, a package we do not
  depend on). Every such block is listed and counted by
  :func:`test_blocks_not_run_are_listed_and_counted`, so none is skipped silently.
* ``<!-- file: PATH -->``: the block is a file (a trainer module) a later block uses; it is
  written to PATH instead of being executed.
* ``<!-- run: NAME -->`` on a shell block: a test of its own runs the block as written
  (``the whole loop``: ``tests/pipelines/test_whole_loop.py``).

Shell blocks: every ``kfp-mlops`` command is checked against the CLI's ``--help`` (command,
options, pipeline and parameter names) and every ``make`` target against the Makefile.
"""
import contextlib
import dataclasses
import functools
import io
import os
import pathlib
import re
import shlex
import textwrap
from typing import Dict, List
from unittest import mock

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# the component READMEs in the order their examples build on each other
WALKTHROUGH = ["ingest", "validate", "train", "evaluate", "push", "predict", "track",
               "registry_alias", "monitor", "alert", "retrain", "vertex_monitoring",
               # last: it reads the predictions predict's example (after push) writes
               "performance"]
# blocks marked <!-- not run: ... -->, per README: a new one must be added here, on purpose
NOT_RUN = {"components/alert/README.md": 1, "components/push/README.md": 1,
           "components/vertex_monitoring/README.md": 1}
FENCE = re.compile(r"^([ \t]*)```(\w*)[ \t]*\n(.*?)^\1```[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!--\s*(not run|file|run):\s*(.*?)\s*-->\s*$")


@dataclasses.dataclass
class Block:
    readme: str             # relative to the repository root
    line: int               # of the opening fence, 1-based
    language: str
    code: str
    marker: str = ""        # "", "not run", "file" or "run"
    argument: str = ""      # the reason, or the file's path

    @property
    def where(self) -> str:
        return f"{self.readme}:{self.line}"


@functools.lru_cache(maxsize=None)
def readmes() -> List[str]:
    """Every README.md of the repository (not of the virtualenv or build output)."""
    found = ["README.md"]
    for top in ROOT.iterdir():
        if top.is_dir() and not top.name.startswith((".", "build", "local_")):
            found += [str(p.relative_to(ROOT)) for p in top.rglob("README.md")]
    return sorted(found)


def blocks(readme: str) -> List[Block]:
    text = (ROOT / readme).read_text()
    out = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        out.append(Block(readme, line, match.group(2), textwrap.dedent(match.group(3)),
                         *(marker.groups() if marker else ())))
    return out


def python_blocks(readme: str) -> List[Block]:
    return [b for b in blocks(readme) if b.language in ("python", "py")]


@contextlib.contextmanager
def cwd(path: pathlib.Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def clone_like(folder: pathlib.Path) -> pathlib.Path:
    """A folder where the READMEs' relative paths resolve as in a clone."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("components", "pipelines"):
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    return folder


def run_blocks(readme: str, folder: pathlib.Path) -> Dict[str, str]:
    """Runs the README's Python blocks in ``folder``; returns what each printed. A block's
    traceback names the README and its line."""
    from kfp import compiler
    from kfp.dsl.graph_component import GraphComponent

    namespace = {"__name__": "readme_" + re.sub(r"\W", "_", readme)}
    printed = {}
    with cwd(folder):
        for block in python_blocks(readme):
            if block.marker == "not run":
                continue
            if block.marker == "file":
                target = folder / block.argument
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code)
                continue
            seen = {id(v) for v in namespace.values()}
            code = compile("\n" * block.line + block.code, str(ROOT / readme), "exec")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(code, namespace)  # noqa: S102 - the README's own example
            printed[block.where] = out.getvalue()
            for name, value in list(namespace.items()):
                if isinstance(value, GraphComponent) and id(value) not in seen:
                    compiler.Compiler().compile(value, str(folder / f"{name}.yaml"))
    return printed


# ------------------------------------------------------------------ which blocks run


def test_python_examples_live_where_this_test_runs_them():
    """A README outside the top one and components/ must not hide Python examples."""
    covered = {"README.md"} | {f"components/{name}/README.md" for name in WALKTHROUGH}
    for readme in readmes():
        if readme not in covered:
            assert not python_blocks(readme), \
                f"{readme} has Python examples: add it to tests/test_readme_examples.py"
    assert all((ROOT / readme).is_file() for readme in covered)


def test_blocks_not_run_are_listed_and_counted(capsys):
    skipped = [b for readme in readmes() for b in python_blocks(readme) if b.marker == "not run"]
    with capsys.disabled():
        print(f"\n{len(skipped)} README Python blocks are not run:")
        for block in skipped:
            print(f"  {block.where}: {block.argument}")
    counts = {}
    for block in skipped:
        assert block.argument, f"{block.where}: say why the block cannot run"
        counts[block.readme] = counts.get(block.readme, 0) + 1
    assert counts == NOT_RUN
    ran = [b for readme in readmes() for b in python_blocks(readme) if b.marker != "not run"]
    assert len(ran) >= 15, [b.where for b in ran]


# ------------------------------------------------------------------ the Python examples


def test_top_readme_examples_run(tmp_path):
    printed = run_blocks("README.md", clone_like(tmp_path))
    assert len(printed) == 2
    # the pipeline of "Reusing one component" compiled
    assert (tmp_path / "my_checks.yaml").is_file()


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    """Runs the component READMEs in order, each once, in one folder; a README whose
    examples build on an earlier one's runs that one first."""
    from tests.support import webhook

    folder = clone_like(tmp_path_factory.mktemp("readme-walkthrough"))
    done: Dict[str, object] = {}
    # alert's example delivers to the webhook ALERT_WEBHOOK_URL names: one on loopback
    with webhook.failing_server(status=200) as (port, posts), mock.patch.dict(
            os.environ, {"ALERT_WEBHOOK_URL": f"http://127.0.0.1:{port}/drift"}):

        def run_through(name: str) -> Dict[str, str]:
            for earlier in WALKTHROUGH[:WALKTHROUGH.index(name) + 1]:
                if earlier not in done:
                    try:
                        done[earlier] = run_blocks(f"components/{earlier}/README.md", folder)
                    except Exception as e:  # noqa: BLE001 - reported by each later README
                        done[earlier] = e
                        raise
                if isinstance(done[earlier], Exception):
                    raise AssertionError(f"components/{earlier}/README.md's examples failed "
                                         f"first: {done[earlier]!r}")
            return done[name]

        run_through.folder = folder
        run_through.posts = posts
        yield run_through


@pytest.mark.slow
@pytest.mark.parametrize("name", WALKTHROUGH)
def test_component_readme_examples_run(name, walkthrough):
    printed = walkthrough(name)
    runnable = [b for b in python_blocks(f"components/{name}/README.md") if not b.marker]
    assert len(printed) == len(runnable)
    work = walkthrough.folder / "work"
    # what the next README reads is there
    produced = {"ingest": "dataset/dataset.json", "validate": "schema/schema.pbtxt",
                "train": "prior_model/saved_model.pb", "evaluate": "blessing/blessing.json",
                "push": "registry/penguins", "track": "mlflow.db",
                "monitor": "drift_report/report.json",
                "alert": "alert/alert.json", "predict": "predictions/predictions.json"}
    if name in produced:
        assert (work / produced[name]).exists(), produced[name]
    if name == "alert":
        assert walkthrough.posts == ["/drift"]  # the drifted batch was delivered


# ------------------------------------------------------------------ the shell examples


def shell_commands():
    """``(where, argv)`` of every command line of the bash / sh blocks."""
    for readme in readmes():
        for block in blocks(readme):
            if block.language not in ("bash", "sh", "shell", "console"):
                continue
            for line in block.code.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                    words = words[1:]  # VAR=value before the command
                if words:
                    yield block.where, words


def _help(argv: List[str]) -> str:
    from kfp_mlops.pipelines import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        cli.main(argv + ["--help"])
    assert exit_info.value.code == 0, argv
    return out.getvalue()


def test_shell_examples_use_real_commands_options_and_parameters():
    from kfp_mlops.pipelines import catalog

    helps: Dict[str, str] = {}
    makefile = (ROOT / "Makefile").read_text()
    checked = 0
    for where, words in shell_commands():
        program = os.path.basename(words[0])
        if program == "make":
            for target in words[1:]:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), \
                    f"{where}: make {target}: no such target in the Makefile"
            checked += 1
            continue
        if program != "kfp-mlops":
            continue
        command = words[1]
        if command not in helps:
            helps[command] = _help([command])
        text = helps[command]
        for word in words[2:]:
            option = word.strip("[(").rstrip("])|.").split("=", 1)[0]
            if option.startswith("--"):
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), \
                    f"{where}: kfp-mlops {command} has no option {option}"
        if command in ("run", "submit", "schedule") and re.fullmatch(r"[a-z-]+", words[2]):
            pipeline = words[2]
            assert pipeline in catalog.names(), f"{where}: no pipeline {pipeline!r}"
            inputs = catalog.get(pipeline).component_spec.inputs
            for flag, value in zip(words, words[1:]):
                if flag == "--param":
                    name = value.split("=", 1)[0]
                    assert name in inputs, \
                        f"{where}: the {pipeline} pipeline has no parameter {name!r}"
        checked += 1
    assert checked >= 15, checked
