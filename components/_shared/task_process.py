"""Fixed costs of a task process: importing TensorFlow, and tearing the interpreter down.

Every task of a pipeline is a fresh ``python -m kfp.dsl.executor_main`` process, so what a
process pays once is paid once per task. Two of those costs are not work of ours:

* ``import tensorflow`` (TensorFlow 2.16) eagerly imports ``keras.src.optimizers``, which
  imports all of Keras 3 and with it scikit-learn, matplotlib.pyplot and pandas: about
  half of the import (``python -X importtime``). TensorFlow wraps that import in ``try: ...
  except (ImportError, AttributeError): pass`` (``tensorflow/__init__.py``, "Do an eager
  load for Keras' code"). :func:`import_tensorflow_without_keras` lets it fail, for the
  tasks that only run TensorFlow ops and SavedModels and never build a Keras model
  (validate through TFDV, evaluate, monitor). Keras stays importable afterwards:
  ``tf.keras`` and ``import keras`` load it on first use as usual.
* After the executor has written its output, the interpreter's teardown (TensorFlow's,
  absl's and Beam's ``atexit`` handlers, destroying thousands of modules and TensorFlow's
  C++ state) takes 1-1.5 s and changes nothing the pipeline reads.
  :func:`exit_without_teardown` ends such a process with ``os._exit`` once that output is
  written.

Why skipping the teardown is safe under the KFP executor contract:

* kfp's executor (``kfp/dsl/executor.py``, ``Executor.write_executor_output``) writes
  ``executor_output.json`` inside ``with open(...)``, the last thing ``Executor.execute``
  does; ``kfp/dsl/executor_main.py``, ``executor_main``, then only logs "Wrote executor
  output file" and returns. Nothing after that line produces an output.
* The Kubeflow launcher reads that file and uploads the output artifacts only after the
  command has exited with status 0 (``backend/src/v2/component/launcher_v2.go``,
  ``executeV2``: ``execute`` runs the command, then ``collectOutputParameters`` and
  ``uploadOutputArtifacts``); kfp.local reads them after the process exits, too.
* The exit status stays what it would have been: the handler runs only when the body
  returned, no exception reached the top (``sys.last_value`` is set by the interpreter
  when one does) and this process wrote the executor output file after the body returned
  (a non-chief worker of a distributed job writes none, and then exits normally).
* Non-daemon threads are joined before ``atexit`` handlers run (``threading._shutdown``
  comes first in ``Py_FinalizeEx``), logging handlers and the standard streams are flushed
  here, and every output file of ours is closed before the body returns (Keras'
  TensorBoard callback closes its writers at the end of ``fit``). What is skipped is
  freeing memory and the libraries' own clean-up of state only this process uses.

:func:`import_heavy` imports a task's heavy libraries (TensorFlow, TFDV, Keras, MLflow) before
its work and logs one line, ``heavy imports done``, so a task's log separates its start, its
imports, its work and its exit (``bench/bench_tfx.py`` reads that line).

The two shortcuts above apply only inside a KFP task process (``_KFP_RUNTIME=true``, which
every task command sets, and ``kfp.dsl.executor_main`` as ``__main__``): a test or notebook
that calls a component's function keeps a normal interpreter.
"""
import atexit
import importlib
import importlib.abc
import importlib.machinery
import json
import logging
import os
import sys
import time
from typing import Optional

_EXECUTOR_MAIN = "kfp.dsl.executor_main"


def in_task_process() -> bool:
    """Whether this interpreter is a KFP task: ``python -m kfp.dsl.executor_main`` with
    ``_KFP_RUNTIME=true`` (``kfp/dsl/component_factory.py`` puts both in every command)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return (os.environ.get("_KFP_RUNTIME") == "true"
            and getattr(spec, "name", "") == _EXECUTOR_MAIN)


class _Deferred(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ImportError("keras is not loaded while tensorflow is imported "
                          "(kfp_mlops.components._shared.task_process)")


class _DeferKeras(importlib.abc.MetaPathFinder):
    """Finds the real ``keras`` package (so ``importlib.util.find_spec("keras")``, which
    TensorFlow's API modules call for its path, still works) but fails to load it."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _Deferred()
        return spec


def import_tensorflow_without_keras():
    """Imports TensorFlow without its eager import of Keras; returns the module.

    When TensorFlow or Keras is already imported, this is a plain ``import tensorflow``.
    """
    if "tensorflow" in sys.modules or "keras" in sys.modules:
        import tensorflow

        return tensorflow
    finder = _DeferKeras()
    sys.meta_path.insert(0, finder)
    try:
        import tensorflow
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("keras", None)      # a failed import leaves nothing, to be sure
    return tensorflow


#: The message :func:`import_heavy` logs once a task's heavy imports are done.
IMPORTS_DONE = "heavy imports done"


def import_heavy(*modules: str) -> None:
    """Imports ``modules`` in order, then logs ``heavy imports done in <s> s: <modules>``.

    Call it right after ``logs.setup()`` in a task whose work needs TensorFlow, TFDV, Keras
    or MLflow, so those imports are paid (and measured) before the work starts.
    ``"tensorflow"`` is imported without its eager Keras import
    (:func:`import_tensorflow_without_keras`) unless ``"keras"`` is among ``modules``.

    Args:
        modules: Dotted module names, e.g. ``"tensorflow", "tensorflow_data_validation"``.
    """
    started = time.perf_counter()
    for name in modules:
        if name == "tensorflow" and "keras" not in modules:
            import_tensorflow_without_keras()
        else:
            importlib.import_module(name)
    logging.getLogger("kfp_mlops.start").info("%s in %.2f s: %s", IMPORTS_DONE,
                                              time.perf_counter() - started, ", ".join(modules))


def _executor_output_file() -> str:
    """``outputs.outputFile`` of this task's ``--executor_input`` (empty when not found)."""
    argv = sys.argv
    for i, arg in enumerate(argv):
        value = None
        if arg == "--executor_input" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--executor_input="):
            value = arg.split("=", 1)[1]
        if value is not None:
            try:
                return json.loads(value).get("outputs", {}).get("outputFile", "") or ""
            except (ValueError, AttributeError):
                return ""
    return ""


def _mtime(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _exit_if_output_written(output_file: str, before: Optional[int]) -> None:
    if (getattr(sys, "last_value", None) is not None
            or getattr(sys, "last_exc", None) is not None):
        return                      # an exception reached the top: exit as Python would
    now = _mtime(output_file)
    written = now is not None and now != before
    if not written:
        return                      # no executor output from this process: a normal exit
    logging.shutdown()
    flush_standard_streams()
    os._exit(0)


def flush_standard_streams() -> None:
    """Flushes stdout and stderr before an ``os._exit`` (which skips the interpreter's own
    flush); a stream already closed or replaced is left alone."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def exit_without_teardown() -> Optional[str]:
    """Call as the last line of a component body: once the executor has written its output
    file, the process exits with status 0 without the interpreter's teardown.

    Registered with ``atexit`` now, so it runs before every handler the body's libraries
    registered earlier (``atexit`` runs the last registered first). Does nothing outside
    a KFP task process.

    Returns:
        The executor output file that must be written for the fast exit; None when this is
        not a task process (or it names no output file) and nothing was registered.
    """
    if not in_task_process():
        return None
    output_file = _executor_output_file()
    if not output_file:
        return None
    # written after now: it did not exist, or its modification time changed (a file left by
    # an earlier attempt whose time does not change means a normal exit: the safe side)
    atexit.register(_exit_if_output_written, output_file, _mtime(output_file))
    return output_file
