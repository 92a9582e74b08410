"""Runs ``kfp-mlops`` command lines in-process, with the Google Cloud and Kubeflow client
classes replaced by autospecs of the real ones (a call that does not fit the real signature
fails) and anything that would look for credentials made to fail loudly."""
import contextlib
from typing import Iterator, List, NamedTuple
from unittest import mock

from kfp_mlops.pipelines import cli


def run_cli(argv: List[str]) -> int:
    """``kfp-mlops ARGV``: its exit code (2 for a usage error, printed to stderr)."""
    return cli.main(argv)


class Clients(NamedTuple):
    job: mock.MagicMock          # aiplatform.PipelineJob
    schedule: mock.MagicMock     # aiplatform.PipelineJobSchedule
    kfp: mock.MagicMock          # kfp.Client


def _forbidden(what: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} was called: a test must never reach Google Cloud")
    return fail


@contextlib.contextmanager
def mocked_clients() -> Iterator[Clients]:
    """Autospecs of ``aiplatform.PipelineJob``, ``aiplatform.PipelineJobSchedule`` and
    ``kfp.Client``; ``aiplatform.init`` and ``google.auth.default`` raise if called."""
    import google.auth
    import kfp
    from google.cloud import aiplatform

    clients = Clients(mock.create_autospec(aiplatform.PipelineJob),
                      mock.create_autospec(aiplatform.PipelineJobSchedule),
                      mock.create_autospec(kfp.Client))
    with mock.patch.object(aiplatform, "PipelineJob", clients.job), \
            mock.patch.object(aiplatform, "PipelineJobSchedule", clients.schedule), \
            mock.patch.object(kfp, "Client", clients.kfp), \
            mock.patch.object(aiplatform, "init", side_effect=_forbidden("aiplatform.init")), \
            mock.patch.object(google.auth, "default",
                              side_effect=_forbidden("google.auth.default")):
        yield clients
