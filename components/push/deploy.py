"""Deploying a pushed version to a Vertex AI endpoint: push's last step, after registering.

The registry only registers (``components/_shared/registry``); serving a version is push's
choice (``endpoint_name``), so the endpoint lookup, its creation and the traffic share live
here, and so does :func:`route_traffic`, which sends an endpoint's traffic back to the version
a rollback made champion again. Plain Python, no kfp import; ``google.cloud.aiplatform`` is
imported inside the functions only.
"""
from __future__ import annotations

import logging
from typing import Dict

from kfp_mlops.components._shared import registry as reg

logger = logging.getLogger(__name__)

#: The machine type of a deployment unless told otherwise.
DEFAULT_MACHINE_TYPE = "n1-standard-2"


class DeployError(ValueError):
    """A deployment setting of push is not valid; the message names it."""


def check_traffic_percentage(traffic_percentage: int) -> int:
    """A Vertex AI endpoint traffic share: a whole number 0-100."""
    if (isinstance(traffic_percentage, bool) or not isinstance(traffic_percentage, (int, float))
            or traffic_percentage != traffic_percentage
            or not float(traffic_percentage).is_integer()
            or not 0 <= traffic_percentage <= 100):
        raise DeployError(f"traffic_percentage must be 0-100 (a whole number), not "
                          f"{traffic_percentage!r}")
    return int(traffic_percentage)


def deploy(version: reg.ModelVersion, endpoint_name: str, project: str, location: str,
           traffic_percentage: int = 0, machine_type: str = DEFAULT_MACHINE_TYPE) -> bool:
    """Deploys a Vertex AI Model Registry version to the endpoint named ``endpoint_name``.

    The endpoint is found by display name, or created when there is none. A version that
    is already deployed there is left as it is. On an endpoint that serves no model yet
    the version gets 100% of the traffic, whatever ``traffic_percentage`` says (Vertex AI
    allows nothing else).

    Args:
        version: The version :meth:`VertexRegistry.register` returned (its ``uri`` is
            ``projects/P/locations/L/models/M@V``).
        endpoint_name: The endpoint's display name.
        project: Google Cloud project of the registry.
        location: Its region.
        traffic_percentage: Share of the endpoint's traffic for this version (0-100).
        machine_type: Machine type of the deployment.

    Returns:
        True when the version was deployed now, False when it was deployed already.

    Raises:
        DeployError: ``traffic_percentage`` is not 0-100, or ``version`` is not a Vertex
            AI model version.
    """
    traffic_percentage = check_traffic_percentage(traffic_percentage)
    resource_name, _, version_id = str(version.uri).rpartition("@")
    if not resource_name or not version_id:
        raise DeployError(f"version {version.uri!r} is not a Vertex AI model version; "
                          "expected projects/<p>/locations/<r>/models/<id>@<version>")
    from google.cloud import aiplatform

    aiplatform.init(project=project, location=location)
    model = aiplatform.Model(model_name=resource_name, version=version_id)
    found = aiplatform.Endpoint.list(filter=f'display_name="{endpoint_name}"')
    endpoint = found[0] if found else aiplatform.Endpoint.create(display_name=endpoint_name)
    deployed_models = endpoint.list_models()
    for deployed in deployed_models:
        if deployed.model == resource_name and str(deployed.model_version_id) == version_id:
            logger.info("%r version %s is already deployed to endpoint %r",
                        version.model_name, version_id, endpoint_name)
            return False
    if not deployed_models and traffic_percentage < 100:
        # The first model on an endpoint takes all its traffic: the SDK turns 0 into 100 and
        # refuses 1-99 with a ValueError (google-cloud-aiplatform models.py,
        # Endpoint._deploy_call, "There are currently no deployed models so the traffic
        # percentage for this deployed model needs to be 100"), so a canary share asked
        # for on an empty endpoint would fail the push after the version was registered.
        if traffic_percentage:
            logger.warning("endpoint %r serves no model yet: %r version %s gets 100%% of "
                           "the traffic, not %d%%", endpoint_name, version.model_name,
                           version_id, traffic_percentage)
        traffic_percentage = 100
    logger.info("deploying %r version %s to endpoint %r with %d%% of the traffic",
                version.model_name, version_id, endpoint_name, traffic_percentage)
    model.deploy(endpoint=endpoint, traffic_percentage=traffic_percentage,
                 machine_type=machine_type,
                 deployed_model_display_name=f"{version.model_name}-v{version_id}")
    return True


def route_traffic(version: reg.ModelVersion, endpoint_name: str, project: str,
                  location: str) -> Dict[str, int]:
    """Sends all of an endpoint's traffic to the deployment of ``version`` (a rollback's
    second half: the endpoint serves what ``champion`` names again).

    The version must already be deployed there (it was, when it was champion before);
    the other deployments stay deployed, with no traffic, so rolling forward again is one
    more traffic update.

    Args:
        version: The Vertex AI model version (``uri`` ``projects/P/locations/L/models/M@V``).
        endpoint_name: The endpoint's display name.
        project: Google Cloud project of the registry.
        location: Its region.

    Returns:
        The traffic split sent: ``{deployed model ID: 100}``.

    Raises:
        DeployError: ``version`` is not a Vertex AI model version, no endpoint has that
            name, or the version is not deployed to it.
    """
    resource_name, _, version_id = str(version.uri).rpartition("@")
    if not resource_name or not version_id:
        raise DeployError(f"version {version.uri!r} is not a Vertex AI model version; "
                          "expected projects/<p>/locations/<r>/models/<id>@<version>")
    from google.cloud import aiplatform

    aiplatform.init(project=project, location=location)
    found = aiplatform.Endpoint.list(filter=f'display_name="{endpoint_name}"')
    if not found:
        raise DeployError(f"endpoint {endpoint_name!r}: no Vertex AI endpoint of that name "
                          f"in {project!r} ({location})")
    endpoint = found[0]
    deployed = [d for d in endpoint.list_models()
                if d.model == resource_name and str(d.model_version_id) == version_id]
    if not deployed:
        raise DeployError(f"endpoint {endpoint_name!r} does not serve {version.model_name!r} "
                          f"version {version_id}; deploy it first (push with endpoint_name)")
    # Endpoint.update(traffic_split=...) replaces the endpoint's whole split: "If a
    # DeployedModel's ID is not listed in this map, then it receives no traffic. The traffic
    # percentage values must add up to 100" (google-cloud-aiplatform models.py,
    # Endpoint.update; it sends UpdateEndpoint with update_mask traffic_split).
    split = {str(deployed[0].id): 100}
    logger.info("endpoint %r: all traffic to %r version %s (deployed model %s)",
                endpoint_name, version.model_name, version_id, deployed[0].id)
    endpoint.update(traffic_split=split)
    return split
