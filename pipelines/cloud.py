"""Sending compiled pipelines to Vertex AI Pipelines or Kubeflow, and publishing templates.

Every action is first built as a plain *request*: a JSON-ready dict holding exactly the
arguments the client library will be called with. ``--dry-run`` prints the request; ``send``
and ``upload`` make the calls. The client libraries (``google.cloud.aiplatform``,
``kfp.Client``, ``kfp.registry``) are imported inside those two functions only, so building
and printing a request needs neither credentials nor the Google Cloud SDK.
"""
import logging
import os
import re
import subprocess
from typing import Any, Dict, List, Optional

from kfp_mlops.pipelines import __version__

logger = logging.getLogger(__name__)

TARGETS = ("vertex", "kubeflow")

# Google Cloud label values: at most 63 lowercase letters, digits, '_' and '-'.
_REPOSITORY_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_GCS_RE = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/.*)?$")
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def label_value(text: str) -> str:
    """``text`` as a Google Cloud label value: ``0.1.0+dev`` -> ``0-1-0-dev``."""
    from kfp_mlops.components._shared import registry

    return registry.label_value(text, default="unknown")


def git_commit(path: Optional[str] = None) -> str:
    """Short commit of the checkout holding this package (or ``path``), else ``unknown``.

    An installed package (under ``site-packages``) has no commit of its own, even when the
    virtualenv lives inside some checkout, so it reports ``unknown``.
    """
    path = path or os.path.dirname(os.path.abspath(__file__))
    if "site-packages" in path.split(os.sep):
        return "unknown"
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path,
                                capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{4,40}", sha) else "unknown"


def run_labels(commit: Optional[str] = None) -> Dict[str, str]:
    """Labels every submitted run carries: the package version and the source commit."""
    return {"kfp-mlops-version": label_value(__version__),
            "git-commit": label_value(commit or git_commit())}


def check_project_region(project: str, region: str) -> None:
    from kfp_mlops.components._shared import gcp

    gcp.check_project_region(project, region, "--project", "--region")


def vertex_request(pipeline: str, spec_path: str, *, project: str, region: str,
                   pipeline_root: str, parameters: Dict[str, Any], enable_caching: bool = True,
                   service_account: Optional[str] = None, run_name: Optional[str] = None,
                   commit: Optional[str] = None) -> Dict[str, Any]:
    """The ``aiplatform.PipelineJob(**job).submit(**submit)`` call for one run.

    Args:
        pipeline: Catalogue name of the pipeline (the run's display name by default).
        spec_path: The compiled pipeline spec.
        project: Google Cloud project the run belongs to.
        region: Vertex AI region, e.g. ``europe-west4``.
        pipeline_root: ``gs://`` folder below which every task writes its outputs.
        parameters: Pipeline arguments, already of the pipeline's types.
        enable_caching: False re-runs every task instead of reusing cached results.
        service_account: Service account the run acts as; None is the project's default.
        run_name: Display name of the run.
        commit: Source commit for the ``git-commit`` label; None asks git.
    """
    check_project_region(project, region)
    if not _GCS_RE.match(pipeline_root or ""):
        raise ValueError(f"--pipeline-root {pipeline_root!r}: Vertex AI needs a Cloud Storage "
                         "folder such as gs://my-bucket/pipeline-root")
    if service_account is not None and "@" not in service_account:
        raise ValueError(f"--service-account {service_account!r}: expected an e-mail such as "
                         "runner@my-project.iam.gserviceaccount.com")
    return {
        "target": "vertex",
        "spec": os.path.abspath(spec_path),
        "job": {
            "display_name": run_name or pipeline,
            "template_path": os.path.abspath(spec_path),
            "pipeline_root": pipeline_root,
            "parameter_values": parameters,
            "enable_caching": enable_caching,
            "labels": run_labels(commit),
            "project": project,
            "location": region,
        },
        "submit": {"service_account": service_account},
    }


def kubeflow_request(pipeline: str, spec_path: str, *, host: str,
                     parameters: Dict[str, Any], enable_caching: bool = True,
                     experiment: Optional[str] = None, namespace: Optional[str] = None,
                     service_account: Optional[str] = None,
                     run_name: Optional[str] = None) -> Dict[str, Any]:
    """The ``kfp.Client(**client).create_run_from_pipeline_package(**run)`` call for one run.

    Args:
        pipeline: Catalogue name of the pipeline.
        spec_path: The compiled pipeline spec.
        host: Kubeflow Pipelines API endpoint, ``http(s)://...``.
        parameters: Pipeline arguments, already of the pipeline's types.
        enable_caching: False re-runs every task instead of reusing cached results.
        experiment: Experiment the run is filed under; None is the default experiment.
        namespace: Kubernetes namespace (multi-user Kubeflow); None for single-user.
        service_account: Kubernetes service account the run's pods use.
        run_name: Name of the run; None lets Kubeflow name it after the pipeline.
    """
    if not re.match(r"^https?://[^\s/]+", host or ""):
        raise ValueError(f"--host {host!r}: expected the Kubeflow Pipelines endpoint as "
                         "http(s)://HOST[:PORT][/PATH], e.g. http://localhost:8080")
    return {
        "target": "kubeflow",
        "spec": os.path.abspath(spec_path),
        "client": {"host": host.rstrip("/"), "namespace": namespace},
        "run": {
            "pipeline_file": os.path.abspath(spec_path),
            "arguments": parameters,
            "run_name": run_name,
            "experiment_name": experiment,
            "enable_caching": enable_caching,
            "service_account": service_account,
        },
    }


def send(request: Dict[str, Any]) -> Dict[str, str]:
    """Makes the call a request describes; returns where to find the run."""
    if request["target"] == "vertex":
        from google.cloud import aiplatform

        job = aiplatform.PipelineJob(**request["job"])
        job.submit(**request["submit"])
        dashboard = getattr(job, "_dashboard_uri", None)
        return {"resource_name": str(job.resource_name),
                "dashboard_uri": str(dashboard()) if callable(dashboard) else ""}
    if request["target"] == "kubeflow":
        import kfp

        client = kfp.Client(**request["client"])
        result = client.create_run_from_pipeline_package(**request["run"])
        run_id = str(result.run_id)
        return {"run_id": run_id, "url": f"{request['client']['host']}/#/runs/details/{run_id}"}
    raise ValueError(f"unknown target {request['target']!r}; targets are {', '.join(TARGETS)}")


# ---------------------------------------------------------------- publishing templates

def registry_host(project: str, region: str, repository: str) -> str:
    """The Artifact Registry Kubeflow Pipelines repository as ``kfp.registry`` addresses it."""
    check_project_region(project, region)
    if not _REPOSITORY_RE.match(repository or ""):
        raise ValueError(f"--repository {repository!r}: expected an Artifact Registry "
                         "repository name (lowercase letters, digits and '-')")
    return f"https://{region}-kfp.pkg.dev/{project}/{repository}"


def template_tags(extra: Optional[List[str]] = None) -> List[str]:
    """The package version, ``latest``, then any extra tags (e.g. the commit), deduplicated.

    Templates may move ``latest`` (it names "the newest published template"); the images
    they reference never do.
    """
    tags: List[str] = []
    for tag in [__version__, "latest", *(extra or [])]:
        if not _TAG_RE.match(tag or ""):
            raise ValueError(f"template tag {tag!r}: expected letters, digits, '_', '.', '-'")
        if tag not in tags:
            tags.append(tag)
    return tags


def spec_description(spec_path: str) -> str:
    """The pipeline's description from a compiled spec, on one line (it travels as a header)."""
    import yaml

    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    text = (spec.get("pipelineInfo") or {}).get("description") or ""
    return " ".join(text.split()).encode("ascii", "replace").decode("ascii")


def publish_request(host: str, specs: Dict[str, str],
                    extra_tags: Optional[List[str]] = None) -> Dict[str, Any]:
    """The ``RegistryClient(host=host).upload_pipeline(**upload)`` calls, one per spec.

    Args:
        host: From :func:`registry_host`.
        specs: Pipeline name -> compiled spec path.
        extra_tags: Tags beyond the package version and ``latest``.
    """
    tags = template_tags(extra_tags)
    return {
        "target": "registry",
        "client": {"host": host},
        "uploads": [{"file_name": os.path.abspath(path), "tags": tags,
                     "extra_headers": {"description": spec_description(path)}}
                    for _, path in sorted(specs.items())],
    }


def upload(request: Dict[str, Any]) -> List[Dict[str, str]]:
    """Uploads every spec of a publish request; returns each template's name and version."""
    from kfp.registry import RegistryClient

    client = RegistryClient(**request["client"])
    published = []
    for one in request["uploads"]:
        package, version = client.upload_pipeline(**one)
        published.append({"file_name": one["file_name"], "package": str(package),
                          "version": str(version)})
    return published
