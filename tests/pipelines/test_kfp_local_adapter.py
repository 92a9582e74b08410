"""kfp_mlops.pipelines.kfp_local_adapter: the one module that patches kfp.local's private
internals. On the kfp installed here every patch applies and is undone; on a kfp whose
internals changed shape each entry point refuses loudly, naming the kfp version, before
anything runs."""
import kfp
import pytest
from kfp import dsl
from kfp.local import docker_task_handler, subprocess_task_handler, task_dispatcher

from kfp_mlops.pipelines import kfp_local_adapter as adapter

CHANGED = rf"^kfp {kfp.__version__.replace('.', '[.]')}: .*needs updating for this kfp$"


def test_the_installed_kfp_has_every_shape_the_adapter_patches():
    assert kfp.__version__ in adapter.WRITTEN_AGAINST
    assert adapter.dispatcher_problem() == ""
    assert adapter.subprocess_problem() == ""
    assert adapter.docker_problem() == ""


def test_every_task_sees_the_call_and_restores_the_dispatcher():
    original = task_dispatcher.run_single_task_implementation
    seen = []

    def handle(task):
        seen.append(task)
        return {"x": 1}, False

    with adapter.every_task(handle):
        wrapped = task_dispatcher.run_single_task_implementation
        assert wrapped is not original
        outputs, task_status = wrapped(
            pipeline_resource_name="p-1", component_name="comp-ingest", component_spec=None,
            executor_spec=None, arguments={"a": 1}, pipeline_root="/root", runner=None,
            raise_on_error=False, block_input_artifact=False, unique_pipeline_id="u")
    assert task_dispatcher.run_single_task_implementation is original
    assert outputs == {"x": 1} and task_status.name == "FAILURE"
    [task] = seen
    assert (task.component_name, task.arguments, task.pipeline_root,
            task.pipeline_resource_name, task.raise_on_error) == \
        ("comp-ingest", {"a": 1}, "/root", "p-1", False)


def test_every_patch_is_undone_when_the_run_raises():
    originals = (task_dispatcher.run_single_task_implementation,
                 subprocess_task_handler.run_local_subprocess,
                 docker_task_handler.DockerTaskHandler.get_volumes_to_mount,
                 docker_task_handler.run_docker_container)
    with pytest.raises(KeyboardInterrupt):
        with adapter.every_task(lambda task: ({}, True)), \
                adapter.task_processes(lambda command, env: 0), \
                adapter.docker_tasks(lambda root: {}, lambda *a, **k: 0):
            raise KeyboardInterrupt
    assert (task_dispatcher.run_single_task_implementation,
            subprocess_task_handler.run_local_subprocess,
            docker_task_handler.DockerTaskHandler.get_volumes_to_mount,
            docker_task_handler.run_docker_container) == originals


def test_task_processes_hand_kfp_locals_call_to_the_starter():
    started = []
    with adapter.task_processes(lambda command, env: started.append((command, env)) or 7):
        assert subprocess_task_handler.run_local_subprocess(full_command=["true"]) == 7
        assert subprocess_task_handler.run_local_subprocess(["x"], env_vars={"A": "1"}) == 7
    assert started == [(["true"], None), (["x"], {"A": "1"})]


def test_docker_tasks_add_volumes_beside_kfp_locals_own(tmp_path):
    root = str(tmp_path / "out")
    extra = {"/data": {"bind": "/data", "mode": "ro"},
             root: {"bind": root, "mode": "ro"}}     # kfp's own mount of the root wins

    def run(client, image, command, volumes, **container_run_args):
        return 0

    with adapter.docker_tasks(lambda pipeline_root: extra, run):
        handler = docker_task_handler.DockerTaskHandler("img", [], root, None)
        assert handler.get_volumes_to_mount() == {
            "/data": {"bind": "/data", "mode": "ro"}, root: {"bind": root, "mode": "rw"}}
        assert docker_task_handler.run_docker_container is run


def test_a_changed_process_starter_is_refused(monkeypatch):
    def run_local_subprocess(command, env):    # renamed arguments
        raise AssertionError("never called")

    monkeypatch.setattr(subprocess_task_handler, "run_local_subprocess", run_local_subprocess)
    with pytest.raises(adapter.KfpLocalChanged, match=CHANGED) as refused:
        with adapter.task_processes(lambda command, env: 0):
            raise AssertionError("must not start")
    assert "run_local_subprocess(full_command[, env_vars])" in str(refused.value)
    assert "it takes (command, env)" in str(refused.value)
    assert subprocess_task_handler.run_local_subprocess is run_local_subprocess


def test_a_handler_that_no_longer_calls_the_starter_is_refused(monkeypatch):
    def run(self):
        return self.start_somehow_else()

    monkeypatch.setattr(subprocess_task_handler.SubprocessTaskHandler, "run", run)
    with pytest.raises(adapter.KfpLocalChanged,
                       match="no longer starts its task with run_local_subprocess"):
        with adapter.task_processes(lambda command, env: 0):
            pass


def test_a_changed_dispatcher_is_refused(monkeypatch):
    def run_single_task_implementation(pipeline_resource_name, component, spec):
        raise AssertionError("never called")

    monkeypatch.setattr(task_dispatcher, "run_single_task_implementation",
                        run_single_task_implementation)
    with pytest.raises(adapter.KfpLocalChanged, match=CHANGED) as refused:
        with adapter.every_task(lambda task: ({}, True)):
            pass
    assert "takes no component_name, component_spec" in str(refused.value)


@pytest.mark.parametrize("target,replacement,message", [
    ("volumes", lambda self, client, workspace: {}, r"takes \(self, client, workspace\)"),
    ("run", lambda image, client: 0, r"no run_docker_container\(client, image, command, "
                                     r"volumes, \.\.\.\); it takes \(image, client\)"),
])
def test_a_changed_docker_handler_is_refused(monkeypatch, target, replacement, message):
    if target == "volumes":
        monkeypatch.setattr(docker_task_handler.DockerTaskHandler, "get_volumes_to_mount",
                            replacement)
    else:
        monkeypatch.setattr(docker_task_handler, "run_docker_container", replacement)
    with pytest.raises(adapter.KfpLocalChanged, match=CHANGED) as refused:
        with adapter.docker_tasks(lambda root: {}, lambda *a, **k: 0):
            pass
    assert __import__("re").search(message, str(refused.value)), str(refused.value)


@dsl.component(install_kfp_package=False)
def _baked(x: int) -> int:
    return x


@dsl.component(packages_to_install=["six"])
def _installs(x: int) -> int:
    return x


@pytest.mark.parametrize("component", [_baked, _installs])
def test_the_executor_is_execed_in_kfps_own_task_command(component):
    container = component.component_spec.implementation.container
    command = [*container.command, *container.args]
    changed = adapter.exec_the_executor(command)
    assert len(changed) == len(command)
    assert sum("_KFP_RUNTIME=true exec python3 -m kfp.dsl.executor_main" in part
               for part in changed) == 1
    if component is _installs:
        assert any(part.rstrip().endswith('&& exec "$0" "$@"') for part in changed)


def test_a_task_command_kfp_did_not_build_is_refused():
    with pytest.raises(adapter.KfpLocalChanged, match=CHANGED) as refused:
        adapter.exec_the_executor(["python3", "-m", "something_else"])
    assert "kfp.dsl.executor_main" in str(refused.value)
