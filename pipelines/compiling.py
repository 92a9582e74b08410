"""Compiling pipelines (and components) to YAML specs for a chosen image registry and tag.

:func:`compile_pipelines` writes pipeline specs to files; ``components_catalog`` turns
components into spec text with the same :func:`compile_to_text` (so the same image rewriting).

Components name their images at the default registry and tag (``kfp_mlops.images``);
compiling rewrites exactly those references to ``<registry>/<image>:<tag>``. The output is
deterministic: compiling twice from the same source gives byte-identical files.
"""
import os
import re
import tempfile
from typing import Callable, Dict, List, Optional, Sequence

from kfp import compiler

from kfp_mlops import images
from kfp_mlops.pipelines import catalog

# ``image_uri``: the train task's Vertex AI custom job names its image in its worker pool
# specs (pipelines/vertex_training.py), which must follow the same registry and tag.
_IMAGE_LINE = re.compile(r"^(\s*(?:image|image_uri):\s*)(\S+)\s*$", re.M)
#: Images compiled specs may name that are not ours and stay as pinned (GCPC's launcher).
_FOREIGN_IMAGES = ("gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0",)
_REGISTRY_RE = re.compile(r"^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_image_target(registry: str, tag: str) -> None:
    """Raises ValueError for a registry or tag that no image reference may carry."""
    if not _REGISTRY_RE.match(registry.rstrip("/")):
        raise ValueError(f"image registry {registry!r} is not a valid registry path "
                         "(for example europe-docker.pkg.dev/my-project/my-repo)")
    if not _TAG_RE.match(tag) or tag == "latest":
        raise ValueError(f"image tag {tag!r}: expected a fixed tag such as a version or a commit "
                         "(letters, digits, '_', '.', '-'; not 'latest')")


def retarget_images(spec_text: str, registry: str, tag: str) -> str:
    """Rewrites every kfp-mlops image in a compiled spec to ``registry/<image>:tag``.

    Raises:
        ValueError: the spec names an image that is not one of ours (it could not be
            retargeted, and a spec half on one registry and half on another is a trap).
    """
    check_image_target(registry, tag)
    defaults = {images.uri(name): name for name in images.IMAGES}

    def replace(match):
        current = match.group(2)
        if current in _FOREIGN_IMAGES:
            return match.group(0)
        if current not in defaults:
            raise ValueError(f"compiled spec names image {current!r}, which is not a "
                             f"kfp-mlops image ({', '.join(sorted(defaults))})")
        return match.group(1) + images.uri(defaults[current], registry, tag)

    return _IMAGE_LINE.sub(replace, spec_text)


def compile_to_text(func: Callable, registry: Optional[str] = None, tag: Optional[str] = None,
                    pipeline_parameters: Optional[Dict] = None) -> str:
    """Compiles a pipeline or component function to spec YAML text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.yaml")
        compiler.Compiler().compile(func, package_path=path,
                                    pipeline_parameters=pipeline_parameters)
        with open(path, encoding="utf-8") as f:
            text = f.read()
    if registry or tag:
        text = retarget_images(text, registry or images.DEFAULT_REGISTRY, tag or images.DEFAULT_TAG)
    return text


def compile_pipeline(name: str, output_dir: str, registry: Optional[str] = None,
                     tag: Optional[str] = None, train_resources=None) -> str:
    """Compiles one pipeline to ``<output_dir>/<name>.yaml``; returns the path."""
    from kfp_mlops.components._shared import io

    text = compile_to_text(catalog.get(name, train_resources), registry, tag)
    path = os.path.join(output_dir, f"{name}.yaml")
    io.write_text(path, text)
    return path


def compile_pipelines(output_dir: str, registry: Optional[str] = None,
                      tag: Optional[str] = None, train_resources=None,
                      names: Optional[Sequence[str]] = None) -> List[str]:
    """Compiles pipelines of the catalogue (every one unless ``names``) to
    ``<output_dir>/<name>.yaml``; returns the written paths, in the order of ``names``.

    Unknown names and a bad registry or tag are refused before anything is written.
    """
    names = list(catalog.names() if names is None else names)
    for name in names:
        catalog.get(name)
    if registry or tag:
        check_image_target(registry or images.DEFAULT_REGISTRY, tag or images.DEFAULT_TAG)
    return [compile_pipeline(name, output_dir, registry, tag, train_resources)
            for name in names]
