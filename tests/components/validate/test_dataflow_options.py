"""validate's Beam options for a Dataflow run: what is built, and what is refused early."""
import pytest

from kfp_mlops.components._shared.statistics import reference

DATAFLOW = ["--runner=DataflowRunner", "--project=my-project", "--region=europe-west4",
            "--temp_location=gs://my-bucket/tmp", "--max_num_workers=8"]


def test_dataflow_options_are_parsed_as_beam_parses_them():
    options = reference.beam_options(DATAFLOW).get_all_options(drop_default=True)
    assert {k: options[k] for k in ("runner", "project", "region", "temp_location",
                                     "max_num_workers")} == {
        "runner": "DataflowRunner", "project": "my-project", "region": "europe-west4",
        "temp_location": "gs://my-bucket/tmp", "max_num_workers": 8}


def test_statistics_with_beam_builds_the_pipeline_with_those_options(monkeypatch):
    import apache_beam as beam

    seen = {}

    class Stop(Exception):
        pass

    def capture(self, *args, options=None, **kwargs):
        seen["options"] = options.get_all_options(drop_default=True)
        raise Stop

    monkeypatch.setattr(beam.Pipeline, "__init__", capture)
    with pytest.raises(Stop):
        reference.statistics_with_beam({"train": "/d/train/*.parquet"},
                                       {"train": "/s/train/stats"}, DATAFLOW)
    assert seen["options"]["runner"] == "DataflowRunner"
    assert seen["options"]["temp_location"] == "gs://my-bucket/tmp"


@pytest.mark.parametrize("drop, message", [
    ("--temp_location", "needs --temp_location"),
    ("--project", "needs --project"),
    ("--region", "needs --region"),
])
def test_dataflow_without_what_the_service_needs_is_refused(drop, message):
    args = [a for a in DATAFLOW if not a.startswith(drop)]
    with pytest.raises(ValueError, match=f"--runner=DataflowRunner {message}"):
        reference.beam_options(args)


def test_local_temp_location_is_refused_for_dataflow():
    args = [a for a in DATAFLOW if not a.startswith("--temp_location")] + [
        "--temp_location=/tmp/x"]
    with pytest.raises(ValueError, match="needs a gs:// --temp_location"):
        reference.beam_options(args)


def test_direct_runner_needs_nothing_more():
    assert reference.beam_options(["--runner=DirectRunner"]).get_all_options()["runner"] == \
        "DirectRunner"
