"""The registry package's front door: registry URIs, ``open_registry`` and
``find_champion`` (``components/_shared/registry/__init__.py``)."""
import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from tests.components._shared.registry.conftest import EVALUATION, register


def test_parse_registry_uri(tmp_path):
    assert reg.parse_registry_uri(str(tmp_path)) == reg.RegistryLocation("local", str(tmp_path))
    assert reg.parse_registry_uri(f"file://{tmp_path}/r").root == f"{tmp_path}/r"
    assert reg.parse_registry_uri("gs://bucket/registry/") == \
        reg.RegistryLocation("gs", "gs://bucket/registry")
    assert reg.parse_registry_uri("s3://bucket/a/registry") == \
        reg.RegistryLocation("s3", "s3://bucket/a/registry")
    # the Vertex AI mount is Cloud Storage FUSE (no atomic rename, no preconditions)
    assert reg.parse_registry_uri("/gcs/bucket/registry") == \
        reg.RegistryLocation("gs", "gs://bucket/registry")
    assert reg.parse_registry_uri("vertex://projects/my-proj/locations/us-central1") == \
        reg.RegistryLocation("vertex", project="my-proj", location="us-central1")
    assert isinstance(reg.open_registry(str(tmp_path)), reg.LocalRegistry)
    assert reg.open_registry("/gcs/b/r").root == "gs://b/r"
    assert reg.open_registry("s3://b/r").root == "s3://b/r"
    vertex = reg.open_registry("vertex://projects/p/locations/europe-west4")
    assert (vertex.project, vertex.location) == ("p", "europe-west4")


ALL_FORMS = (r"a local path, a file:///absolute/path URI, gs://<bucket>/<folder>, "
             r"s3://<bucket>/<folder>, /gcs/<bucket>/<folder> \(Vertex AI's Cloud Storage "
             r"mount, used as gs://<bucket>/<folder>\) or "
             r"vertex://projects/<project>/locations/<region>")


@pytest.mark.parametrize("uri, message", [
    ("", "registry_uri is empty; expected " + ALL_FORMS),
    ("hdfs://bucket/registry", "unsupported scheme.*; expected " + ALL_FORMS),
    ("gs:///registry", "expected gs://BUCKET/PATH; expected " + ALL_FORMS),
    ("vertex://projects/p", "expected vertex://projects/<project>/locations/<region>"),
    ("file://relative/path", "absolute path; expected " + ALL_FORMS),
])
def test_parse_registry_uri_rejects(uri, message):
    with pytest.raises(reg.RegistryError, match=message):
        reg.parse_registry_uri(uri)


def test_gcs_path_conversion(tmp_path):
    assert reg.to_gcs_uri("/gcs/bucket/a/model") == "gs://bucket/a/model"
    assert reg.to_gcs_uri("gs://bucket/a") == "gs://bucket/a"
    assert io.to_mount_path("gs://bucket/a/model") == "/gcs/bucket/a/model"
    assert io.to_mount_path(str(tmp_path)) == str(tmp_path)
    assert io.from_mount_path("/gcs/bucket/a") == "gs://bucket/a"
    assert io.from_mount_path(str(tmp_path)) == str(tmp_path)  # off the mount: as is
    assert reg.to_gcs_uri(f"{tmp_path}/b/m", mount=str(tmp_path)) == "gs://b/m"
    with pytest.raises(reg.RegistryError, match="not in Cloud Storage"):
        reg.to_gcs_uri(str(tmp_path / "model"))



def test_find_champion(store, parts):
    assert reg.find_champion(store, "penguins") is None  # no registry yet
    registry = reg.open_registry(store)
    register(registry, parts, "model_a", aliases=())
    assert reg.find_champion(store, "penguins") is None  # no champion yet
    register(registry, parts, "model_b")
    champion = reg.find_champion(store, "penguins")
    assert champion.version == 2 and champion.evaluation == EVALUATION
    assert reg.find_champion(store, "other-model") is None
    with pytest.raises(reg.RegistryError, match="model_name"):
        reg.find_champion(store, "bad/name")


def test_find_champion_through_file_uri(tmp_path, parts):
    root = str(tmp_path / "registry")
    register(reg.LocalRegistry(root), parts, "model_b")
    assert reg.find_champion(f"file://{root}", "penguins").version == 1
