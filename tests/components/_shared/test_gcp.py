"""One check of Google Cloud project ids and regions, for the CLI and the components."""
import pytest

from kfp_mlops.components._shared import gcp


@pytest.mark.parametrize("project", ["my-project", "example.com:my-project", "abc123"])
def test_project_ids_accepted(project):
    gcp.check_project_region(project, "europe-west4")


@pytest.mark.parametrize("project", ["", "P", "My Project", "1abcdef", "ab", "abcdef-"])
def test_project_ids_refused_naming_the_input(project):
    with pytest.raises(ValueError, match=r"--project .*expected a Google Cloud project id"):
        gcp.check_project_region(project, "us-central1", "--project", "--region")


@pytest.mark.parametrize("region", ["", "europe", "EU-west4", "us_central1"])
def test_regions_refused_with_the_callers_error(region):
    class SettingError(ValueError):
        pass

    with pytest.raises(SettingError, match=r"region .*expected a Google Cloud region"):
        gcp.check_project_region("my-project", region, error=SettingError)


def test_cli_and_retrain_agree():
    from kfp_mlops.components.retrain import core as retrain
    from kfp_mlops.pipelines import cloud

    cloud.check_project_region("example.com:my-project", "us-central1")
    with pytest.raises(retrain.RetrainError, match="project 'My Project'"):
        retrain.check_settings("vertex", "gs://b/d.csv", "y", "m", "gs://b/r",
                               "gs://b/training.yaml", "My Project", "us-central1",
                               "gs://b/root")
    retrain.check_settings("vertex", "gs://b/d.csv", "y", "m", "gs://b/r",
                           "gs://b/training.yaml", "example.com:my-project", "us-central1",
                           "gs://b/root")


def test_label_value_follows_google_cloud_label_rules():
    assert gcp.label_value("Training-Pipeline 2024/01.x") == "training-pipeline-2024-01-x"
    assert gcp.label_value("0.1.0") == "0-1-0"
    assert gcp.label_value("1.2.0+Local.Build") == "1-2-0-local-build"
    assert gcp.label_value("R" * 100) == "r" * 63
    assert gcp.label_value("--", default="unknown") == "unknown"
    assert gcp.label_value("", default="") == ""
