"""Training on more than one machine: TF_CONFIG parsing, and two real worker processes on
127.0.0.1 training the built-in model under MultiWorkerMirroredStrategy."""
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import metrics as shared_metrics
from kfp_mlops.components._shared import model_io
from kfp_mlops.components.train import distributed
from tests.conftest import ROOT


def _tf_config(workers, task_type="worker", index=0, chief=None):
    cluster = {"worker": list(workers)}
    if chief is not None:
        cluster["chief"] = [chief]
    return {distributed.TF_CONFIG: json.dumps({"cluster": cluster,
                                               "task": {"type": task_type, "index": index}})}


def test_no_tf_config_or_one_worker_is_single_machine():
    assert distributed.cluster_from_environment({}) is distributed.SINGLE
    assert distributed.cluster_from_environment({"TF_CONFIG": " "}) is distributed.SINGLE
    # Vertex sets TF_CONFIG on a one-replica job too: a cluster of one is one machine
    one = _tf_config([], "chief", 0, chief="cmle-training-chief-0:2222")
    assert distributed.cluster_from_environment(one) is distributed.SINGLE
    assert distributed.SINGLE.is_chief and not distributed.SINGLE.is_multi_worker


def test_chief_rule_vertex_layout_and_worker_zero():
    # Vertex: workerPoolSpecs[0] is task type "chief", workerPoolSpecs[1] "worker"
    chief = distributed.cluster_from_environment(
        _tf_config(["w0:2222", "w1:2222"], "chief", 0, chief="c0:2222"))
    assert chief.is_chief and chief.num_workers == 3
    assert chief.workers == ("c0:2222", "w0:2222", "w1:2222")
    worker0 = distributed.cluster_from_environment(
        _tf_config(["w0:2222", "w1:2222"], "worker", 0, chief="c0:2222"))
    assert not worker0.is_chief and worker0.task_id == "worker_0"
    # no chief in the cluster: worker 0 is the chief (the TF tutorial's rule)
    plain = ["127.0.0.1:1", "127.0.0.1:2"]
    assert distributed.cluster_from_environment(_tf_config(plain, "worker", 0)).is_chief
    assert not distributed.cluster_from_environment(_tf_config(plain, "worker", 1)).is_chief


@pytest.mark.parametrize("config, message", [
    ("{not json", "TF_CONFIG is not JSON"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:1"], "ps": ["p:1"]},
                 "task": {"type": "worker", "index": 0}}), "['ps'] tasks"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}),
     "is not a task of its cluster"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "evaluator"}}),
     "is not a task of its cluster"),
])
def test_bad_tf_config_is_refused_with_a_reason(config, message):
    with pytest.raises(distributed.ClusterError, match=message.replace("[", r"\[").replace(
            "]", r"\]")):
        distributed.cluster_from_environment({"TF_CONFIG": config})


def test_one_machine_changes_nothing():
    distributed.from_environment({})
    sentinel = object()
    assert distributed.shard(sentinel) is sentinel
    with distributed.output_paths("/out/model", "") as (model, tensorboard):
        assert (model, tensorboard) == ("/out/model", "")
    assert distributed.strategy() is None and distributed.is_chief()


_WORKER = textwrap.dedent("""
    import json, logging, sys
    logging.basicConfig(level=logging.INFO)
    from kfp_mlops.components.train import core
    dataset, schema, model_dir, tensorboard_dir, out = sys.argv[1:6]
    result = core.train(dataset, schema, model_dir, tensorboard_dir)
    with open(out, "w") as f:
        json.dump({"chief": result.chief, "model_dir": result.model_dir,
                   "tensorboard_dir": result.tensorboard_dir, "metrics": result.metrics,
                   "content_hash": result.content_hash}, f)
""")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _test_accuracy(model_dir, dataset_dir):
    frame = ds.read_pandas(dataset_dir, "test")
    serving = model_io.load(model_dir)
    classes = serving.metadata["label_vocabulary"]
    index = {c: i for i, c in enumerate(classes)}
    y = [index[v] for v in frame["species"]]
    scalars, _ = shared_metrics.classification_metrics(
        y, serving.predict(frame)["probabilities"], classes, full=False)
    return scalars["accuracy"]


@pytest.mark.slow
def test_two_worker_processes_train_like_one(tmp_path, penguins_dataset, schema_for,
                                             species_model):
    """Two real processes, one TF_CONFIG each, both given the same output paths (as Vertex
    gives every replica the same command): the chief's model is as good as one process's,
    and the other worker leaves nothing behind."""
    ports = _free_ports(2)
    workers = [f"127.0.0.1:{p}" for p in ports]
    out = tmp_path / "outputs"
    out.mkdir()
    procs, logs = [], []
    for index in range(2):
        worker_tmp = tmp_path / f"tmp_{index}"
        worker_tmp.mkdir()
        env = dict(os.environ, **_tf_config(workers, "worker", index),
                   TMPDIR=str(worker_tmp), CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                   PYTHONPATH=os.pathsep.join([str(ROOT)] + [
                       p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        log = open(tmp_path / f"worker_{index}.log", "wb")
        logs.append(log)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _WORKER, penguins_dataset, schema_for("species"),
             str(out / "model"), str(out / "tensorboard"), str(tmp_path / f"result_{index}.json")],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path))
    deadline = time.time() + 900
    try:
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()

    def tail(index):
        return (tmp_path / f"worker_{index}.log").read_text(errors="replace")[-4000:]

    for index, proc in enumerate(procs):
        assert proc.returncode == 0, f"worker {index} failed ({proc.returncode}):\n{tail(index)}"
    chief, other = (json.loads((tmp_path / f"result_{i}.json").read_text()) for i in range(2))
    assert "MultiWorkerMirroredStrategy" in tail(0) or "multi-worker training" in tail(0)
    assert chief["chief"] is True and other["chief"] is False
    assert chief["model_dir"] == str(out / "model") and other["model_dir"] == ""

    # the output holds the chief's model and logs, nothing of the other worker
    assert sorted(os.listdir(out)) == ["model", "tensorboard"]
    assert model_io.content_hash(str(out / "model")) == chief["content_hash"]
    assert sorted(os.listdir(out / "tensorboard")) == ["train", "validation"]
    # and its temporary copy is gone
    assert not [n for n in os.listdir(tmp_path / "tmp_1") if n.startswith("kfp_mlops_")]

    # as good as one process on the held-out test split
    single = _test_accuracy(species_model.model_dir, penguins_dataset)
    multi = _test_accuracy(str(out / "model"), penguins_dataset)
    assert multi >= 0.9, (multi, single)
    assert abs(multi - single) <= 0.06, (multi, single)
    assert chief["metrics"]["eval_accuracy"] >= 0.9
