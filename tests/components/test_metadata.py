"""Every component's ``metadata.yaml``, as the kubeflow/pipelines-components catalogue reads it.

The format is that catalogue's (``scripts/validate_metadata/validate_metadata.py``,
``validate_required_fields`` and ``validate_date_verified``, and its
``metadata_schema.json``): ``name``, ``stability``, ``dependencies`` and ``lastVerified`` in that
order, then optional ``tags``, ``ci``, ``links``, ``managed``, ``description``;
``dependencies.kubeflow`` must name ``Pipelines``; each dependency has a ``name`` and a semantic
``version`` with at most one of ``== >= <= ~=``; ``lastVerified`` is an RFC 3339 date-time less
than a year old. On top of that, the versions must be the ones CI tests: kfp from
``requirements.lock`` up to what ``.ci/newer_kfp.sh`` installs, and each external service's
client library at its locked version.
"""
import ast
import datetime
import pathlib
import re
import shlex

import pytest
import yaml

from kfp_mlops.pipelines import components_catalog

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components"
REQUIRED = ["name", "stability", "dependencies", "lastVerified"]
OPTIONAL = {"tags", "ci", "links", "managed", "description"}
STABILITY = {"alpha", "beta", "stable"}
# the catalogue's semantic-version pattern (semver.org's), with its optional single operator
VERSION = re.compile(r"^(==|>=|<=|~=)?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
# validate_date_verified: a component not verified for a year is stale
MAX_AGE = datetime.timedelta(days=365)


def locked_versions(lock: pathlib.Path = ROOT / "requirements.lock"):
    """``{package: version}`` of a uv lock (``name==version \\`` lines)."""
    return {m.group(1).lower(): m.group(2) for m in
            re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(), re.M)}


def newer_kfp_constraints(script: pathlib.Path = ROOT / ".ci" / "newer_kfp.sh"):
    """What ``.ci/newer_kfp.sh`` asks pip for kfp: ``""`` for the newest release, else the
    constraint (``==2.17.3``, ``<2.18``)."""
    found = []
    for line in script.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if "install" not in words or "--no-deps" in words:
            continue
        for word in words[words.index("install") + 1:]:
            match = re.fullmatch(r"kfp(\s*[=<>~!].*)?", word)
            if match:
                found.append((match.group(1) or "").strip())
    assert len(found) == 1, f"{script}: expected one pip install of kfp, found {found}"
    return found[0]


def expected_kfp_versions():
    """The Pipelines versions a component's metadata must state: from the locked kfp, and up
    to the newer-kfp check's kfp when that one is pinned (the newest release otherwise)."""
    versions = [">=" + locked_versions()["kfp"]]
    constraint = newer_kfp_constraints()
    if constraint:
        pinned = re.fullmatch(r"==\s*(\S+)", constraint)
        assert pinned, (f".ci/newer_kfp.sh installs kfp{constraint}: state that range in "
                        "metadata.yaml and teach this test to read it")
        versions.append("<=" + pinned.group(1))
    return versions


def load(name: str):
    path = COMPONENTS / name / "metadata.yaml"
    assert path.is_file(), f"components/{name}/ has no metadata.yaml"
    metadata = yaml.safe_load(path.read_text())
    assert isinstance(metadata, dict), f"{path}: expected a mapping, got {type(metadata).__name__}"
    return metadata


def test_every_component_folder_has_metadata():
    """Folders that hold a component.py, and nothing beside them."""
    assert sorted(p.parent.name for p in COMPONENTS.glob("*/metadata.yaml")) == \
        components_catalog.names()  # which are named in tests/pipelines/test_components_catalog.py


@pytest.mark.parametrize("name", components_catalog.names())
def test_metadata_follows_the_catalogue_schema(name):
    metadata = load(name)
    keys = list(metadata)
    assert [k for k in keys if k not in OPTIONAL] == REQUIRED, \
        f"components/{name}/metadata.yaml: expected {REQUIRED} in this order, then any of " \
        f"{sorted(OPTIONAL)}; got {keys}"
    assert metadata["name"] == name
    assert metadata["stability"] in STABILITY, metadata["stability"]

    dependencies = metadata["dependencies"]
    assert isinstance(dependencies, dict) and "kubeflow" in dependencies
    assert set(dependencies) <= {"kubeflow", "external_services"}, sorted(dependencies)
    for kind, items in dependencies.items():
        assert isinstance(items, list) and items, f"dependencies.{kind}: expected a list"
        for item in items:
            assert isinstance(item.get("name"), str) and item["name"], (kind, item)
            assert isinstance(item.get("version"), str) and VERSION.match(item["version"]), \
                f"dependencies.{kind}: {item} needs a semantic version such as '>=2.13.0'"
    assert any(d["name"] == "Pipelines" for d in dependencies["kubeflow"])

    verified = metadata["lastVerified"]
    assert isinstance(verified, datetime.datetime) and verified.tzinfo is not None, \
        f"lastVerified: expected YYYY-MM-DDTHH:MM:SSZ, got {verified!r}"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert verified <= now, f"lastVerified {verified} is in the future"
    assert now - verified < MAX_AGE, \
        f"components/{name} was last verified on {verified:%Y-%m-%d}, over a year ago: " \
        "check it on the kfp range CI tests and bump lastVerified"
    for key, kind in (("tags", list), ("description", str), ("links", dict), ("ci", dict),
                      ("managed", bool)):
        if key in metadata:
            assert isinstance(metadata[key], kind), (key, metadata[key])
    assert all(isinstance(tag, str) for tag in metadata.get("tags", []))


@pytest.mark.parametrize("name", components_catalog.names())
def test_kfp_range_is_the_one_ci_tests(name):
    """From the runtime lock's kfp (what `make test` runs) to the newer-kfp check's, which
    installs the newest release: an open upper bound is what CI checks."""
    pipelines = [d["version"] for d in load(name)["dependencies"]["kubeflow"]
                 if d["name"] == "Pipelines"]
    assert pipelines == expected_kfp_versions()


@pytest.mark.parametrize("name", components_catalog.names())
def test_external_services_name_their_locked_client(name):
    locked = locked_versions()
    for service in load(name)["dependencies"].get("external_services", []):
        package = service.get("package", "")
        assert package in locked, f"{service}: 'package' must be a requirements.lock package"
        assert service["version"] == "==" + locked[package], \
            f"{service['name']}: {package} is locked at {locked[package]}"


def test_the_lock_is_inside_what_setup_py_allows():
    """`pip install kfp-mlops` must allow the kfp the metadata's range starts at."""
    setup = (ROOT / "setup.py").read_text()
    lower = re.search(r'"kfp>=([0-9.]+),<3"', setup)
    assert lower, "setup.py: expected install_requires kfp>=X,<3"
    as_tuple = lambda v: tuple(int(p) for p in v.split("."))  # noqa: E731
    assert as_tuple(lower.group(1)) <= as_tuple(locked_versions()["kfp"])


def test_the_wheel_ships_every_metadata_yaml():
    """setup.py's package_data patterns for kfp_mlops.components match each file."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "setup")
    package_data = ast.literal_eval(next(k.value for k in call.keywords
                                         if k.arg == "package_data"))
    patterns = package_data["kfp_mlops.components"]
    for path in sorted(COMPONENTS.glob("*/metadata.yaml")):
        relative = path.relative_to(COMPONENTS)
        assert any(relative.match(p) for p in patterns), (str(relative), patterns)
