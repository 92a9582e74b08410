"""Vertex AI, mocked so that API drift fails a test: every mock is autospec'd on the real
``google.cloud.aiplatform`` class with ``spec_set`` (a call with a parameter the SDK does
not take, or an attribute it does not have, raises), and what the SDK returns is built from
its own types (``models.VersionInfo``, the ``DeployedModel`` proto), not from bare mocks."""
import contextlib
import types
from unittest import mock


@contextlib.contextmanager
def patched():
    """``aiplatform.init``, ``aiplatform.Model`` and ``aiplatform.Endpoint`` mocked (nothing
    else); yields them as ``.init``, ``.Model``, ``.Endpoint``."""
    from google.cloud import aiplatform

    with mock.patch.object(aiplatform, "init", autospec=True, spec_set=True) as init, \
            mock.patch.object(aiplatform, "Model", autospec=True, spec_set=True) as model, \
            mock.patch.object(aiplatform, "Endpoint", autospec=True, spec_set=True) as endpoint:
        yield types.SimpleNamespace(init=init, Model=model, Endpoint=endpoint)


def model(**attributes):
    """A Vertex AI model (version): the real class's interface, ``attributes`` set."""
    from google.cloud.aiplatform import models  # the real classes, also while patched

    found = mock.create_autospec(models.Model, instance=True, spec_set=True)
    found.configure_mock(**attributes)
    return found


def parent(resource_name: str, **attributes):
    """A Vertex AI model as ``Model.list`` finds it, with its ``versioning_registry``."""
    from google.cloud.aiplatform import models

    found = model(resource_name=resource_name, **attributes)
    found.versioning_registry = mock.create_autospec(models.ModelRegistry, instance=True,
                                                     spec_set=True)
    return found


def version_info(version_id: str, aliases=()):
    """What ``ModelRegistry.list_versions`` returns for one version."""
    from google.cloud.aiplatform import models

    return models.VersionInfo(version_id=str(version_id), version_create_time=None,
                              version_update_time=None, model_display_name="penguins",
                              model_resource_name="", version_aliases=list(aliases),
                              version_description="")


def endpoint(deployed=()):
    """A Vertex AI endpoint whose ``list_models`` returns ``deployed`` as the API's
    ``DeployedModel`` messages (``(model resource name, version id)`` pairs, or
    ``(model resource name, version id, deployed model id)``)."""
    from google.cloud.aiplatform import models
    from google.cloud.aiplatform_v1.types import DeployedModel

    found = mock.create_autospec(models.Endpoint, instance=True, spec_set=True)
    found.list_models.return_value = [
        DeployedModel(model=d[0], model_version_id=str(d[1]),
                      **({"id": str(d[2])} if len(d) > 2 else {}))
        for d in deployed]
    return found
