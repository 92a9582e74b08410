"""task_process: the fast exit of a task process and TensorFlow without eager Keras.

The exit is checked in real ``python -m kfp.dsl.executor_main`` processes, as every task
runs: a marker ``atexit`` handler registered by the body before the fast exit is skipped
when the body returns (and the executor output is complete), and still runs when the body
raises (exit status 1, the normal teardown).
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

from kfp_mlops.components._shared import task_process

COMPONENT = textwrap.dedent('''
    from kfp.dsl import Output, Artifact

    def body(out: Output[Artifact], fail: bool) -> str:
        import atexit
        from kfp_mlops.components._shared import task_process
        marker = out.path + ".teardown"
        atexit.register(lambda: open(marker, "w").write("ran"))
        with open(out.path, "w") as f:
            f.write("payload")
        out.metadata["rows"] = 3
        if fail:
            raise RuntimeError("the body failed")
        assert task_process.exit_without_teardown()
        return "done"
''')


def _run_task(tmp_path: pathlib.Path, fail: bool):
    module = tmp_path / "component_module.py"
    module.write_text(COMPONENT)
    out_uri = str(tmp_path / "out")
    output_file = tmp_path / "executor_output.json"
    executor_input = {
        "inputs": {"parameterValues": {"fail": fail}},
        "outputs": {
            "artifacts": {"out": {"artifacts": [{"name": "out", "type": {
                "schemaTitle": "system.Artifact"}, "uri": out_uri}]}},
            "parameters": {"Output": {"outputFile": str(tmp_path / "Output")}},
            "outputFile": str(output_file)}}
    env = dict(os.environ, _KFP_RUNTIME="true")
    result = subprocess.run(
        [sys.executable, "-m", "kfp.dsl.executor_main", "--component_module_path", str(module),
         "--function_to_execute", "body", "--executor_input", json.dumps(executor_input)],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return result, pathlib.Path(out_uri), output_file


def test_a_returned_body_exits_0_with_complete_outputs_and_no_teardown(tmp_path):
    result, out, output_file = _run_task(tmp_path, fail=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Wrote executor output file" in result.stdout + result.stderr     # logging flushed before exit
    executor_output = json.loads(output_file.read_text())
    assert executor_output["parameterValues"]["Output"] == "done"
    assert executor_output["artifacts"]["out"]["artifacts"][0]["metadata"] == {"rows": 3}
    assert out.read_text() == "payload"
    assert not pathlib.Path(str(out) + ".teardown").exists()  # earlier atexit handlers skipped


def test_a_failed_body_keeps_the_normal_exit(tmp_path):
    result, out, output_file = _run_task(tmp_path, fail=True)
    assert result.returncode == 1
    assert "the body failed" in result.stdout + result.stderr
    assert not output_file.exists()
    assert pathlib.Path(str(out) + ".teardown").read_text() == "ran"


def test_nothing_happens_outside_a_task_process(monkeypatch):
    monkeypatch.setenv("_KFP_RUNTIME", "true")              # but __main__ is pytest
    assert not task_process.in_task_process()
    assert task_process.exit_without_teardown() is None


def test_tensorflow_without_eager_keras_and_keras_still_importable():
    script = textwrap.dedent('''
        import sys
        from kfp_mlops.components._shared import task_process
        tf = task_process.import_tensorflow_without_keras()
        assert "keras" not in sys.modules, "keras was imported"
        assert "sklearn" not in sys.modules and "matplotlib" not in sys.modules
        assert float(tf.reduce_sum(tf.ones([3]))) == 3.0
        import keras
        assert keras.layers.Dense(2).units == 2
        assert tf.keras.layers.Dense is not None
        print("ok")
    ''')
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_import_heavy_logs_one_line_once_the_imports_are_done():
    script = textwrap.dedent('''
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                            format="%(name)s: %(message)s")
        from kfp_mlops.components._shared import task_process
        task_process.import_heavy("tensorflow", "json")
        assert "tensorflow" in sys.modules and "keras" not in sys.modules, "keras was imported"
        task_process.import_heavy("tensorflow", "keras")
        assert "keras" in sys.modules
        print("ok")
    ''')
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    done = [line for line in lines if line.startswith("kfp_mlops.start: ")]
    assert len(done) == 2, lines
    assert re.fullmatch(r"kfp_mlops\.start: heavy imports done in \d+\.\d\d s: tensorflow, json",
                        done[0]), done
    assert done[1].endswith(" s: tensorflow, keras"), done
    assert lines[-1] == "ok"
