"""Alert delivery: Cloud Logging lines, a real webhook server, Pub/Sub at the API boundary."""
import io as stdio
import json
import os
from unittest import mock

import pytest

from kfp_mlops.components.alert import core


def no_sleep(seconds):
    no_sleep.waits.append(seconds)


def alert(report, tmp_path, **kwargs):
    no_sleep.waits = []
    stream = stdio.StringIO()
    result = core.alert(report, str(tmp_path / "alert"), stream=stream, sleep=no_sleep,
                        report_uri="/out/drift_report", **kwargs)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return result, lines


def test_cloud_logging_entries(report, tmp_path):
    result, lines = alert(report, tmp_path, labels={"team": "ml"})
    assert len(lines) == 3 == result.log_entries           # summary + one per finding
    summary, skew, drift = lines
    assert summary["severity"] == "WARNING"
    assert summary["message"].startswith("kfp-mlops monitoring: drift detected for model "
                                         "'penguins' version 1: 2 finding(s)")
    assert summary["logging.googleapis.com/labels"] == {
        "component": "kfp-mlops-monitoring", "model_name": "penguins", "model_version": "1",
        "team": "ml"}
    assert summary["findings"] == report["findings"] and summary["rows"] == 150
    assert skew["severity"] == "WARNING" and skew["feature"] == "island"
    assert skew["value"] == 0.4612 and skew["threshold"] == 0.3 and skew["kind"] == "skew"
    assert skew["logging.googleapis.com/labels"]["finding_kind"] == "skew"
    assert drift["metric"] == "JENSEN_SHANNON_DIVERGENCE"
    assert not result.notified and "only logged" in result.reason
    saved = json.load(open(tmp_path / "alert" / "alert.json"))
    assert saved["deliveries"] == [] and saved["payload"]["model_name"] == "penguins"


def test_no_finding_is_one_info_entry(report, tmp_path, webhook):
    url, server = webhook()
    clean = dict(report, drift_detected=False, reasons=[], findings=[])
    result, lines = alert(clean, tmp_path, webhook_url=url)
    assert [line["severity"] for line in lines] == ["INFO"]
    assert server.requests == [] and not result.notified and result.delivered


def test_webhook_delivery(report, tmp_path, webhook):
    url, server = webhook([200])
    result, _ = alert(report, tmp_path, webhook_url=url)
    assert result.delivered and result.deliveries[0].attempts == 1
    assert result.deliveries[0].response == "HTTP 200"
    path, headers, body = server.requests[0]
    assert path == "/hooks/drift?token=s3cret"
    assert headers["Content-Type"] == "application/json"
    assert body["kind"] == "kfp-mlops.drift-alert" and body["drift_detected"] is True
    assert body["findings"] == report["findings"] and body["report_uri"] == "/out/drift_report"
    assert "s3cret" not in result.deliveries[0].target       # tokens stay out of records


def test_webhook_fails_then_recovers(report, tmp_path, webhook):
    url, server = webhook([500, 503, 200])
    result, _ = alert(report, tmp_path, webhook_url=url, max_attempts=3, backoff_seconds=0.5)
    assert result.delivered
    assert len(server.requests) == 3 and result.deliveries[0].attempts == 3
    assert no_sleep.waits == [0.5, 1.0]                       # exponential backoff
    assert "HTTP Error 500" in result.deliveries[0].errors[0]


def test_webhook_always_failing_is_reported_and_bounded(report, tmp_path, webhook, caplog):
    url, server = webhook([500])
    result, _ = alert(report, tmp_path, webhook_url=url, max_attempts=3)
    assert not result.delivered and len(server.requests) == 3
    assert result.metadata()["failed_channels"] == ["webhook"]
    assert "FAILED after 3 tries" in caplog.text
    saved = json.load(open(tmp_path / "alert" / "alert.json"))
    assert saved["delivered"] is False and len(saved["deliveries"][0]["errors"]) == 3


def test_fail_on_delivery_error_raises_after_writing(report, tmp_path, webhook):
    url, server = webhook([500])
    with pytest.raises(core.DeliveryError, match=r"webhook .*\(2 tries: try 2: HTTPError"):
        alert(report, tmp_path, webhook_url=url, max_attempts=2, fail_on_delivery_error=True)
    assert os.path.isfile(tmp_path / "alert" / "alert.json")


def test_client_error_is_not_retried(report, tmp_path, webhook):
    url, server = webhook([404])
    result, _ = alert(report, tmp_path, webhook_url=url)
    assert not result.delivered and len(server.requests) == 1


def test_unreachable_webhook(report, tmp_path):
    result, _ = alert(report, tmp_path, webhook_url="http://127.0.0.1:9/nothing",
                      max_attempts=2, timeout_seconds=2)
    assert not result.delivered and result.deliveries[0].attempts == 2


def test_pubsub_publish(report, tmp_path):
    with mock.patch("google.cloud.pubsub_v1.PublisherClient") as client_class:
        client = client_class.return_value
        client.publish.return_value.result.return_value = "1234"
        result, _ = alert(report, tmp_path, pubsub_topic="projects/p/topics/drift",
                          labels={"team": "ml"}, run_name="monitoring-1")
    payload = core.alert_payload(report, "/out/drift_report", "", "monitoring-1")
    client.publish.assert_called_once_with(
        "projects/p/topics/drift", data=json.dumps(payload).encode("utf-8"),
        model_name="penguins", model_version="1", drift_detected="true", finding_count="2",
        team="ml")
    client.publish.return_value.result.assert_called_once_with(timeout=10.0)
    assert result.delivered and result.deliveries[0].response == "message 1234"


def test_pubsub_retries_then_reports(report, tmp_path):
    with mock.patch("google.cloud.pubsub_v1.PublisherClient") as client_class:
        client_class.return_value.publish.side_effect = RuntimeError("503 unavailable")
        result, _ = alert(report, tmp_path, pubsub_topic="projects/p/topics/drift")
    assert not result.delivered and client_class.return_value.publish.call_count == 3


@pytest.mark.parametrize("kwargs,message", [
    ({"webhook_url": "ftp://x"}, "expected an http"),
    ({"pubsub_topic": "drift"}, "projects/<project>/topics/<topic>"),
    ({"max_attempts": 0}, "max_attempts must be 1-10"),
])
def test_bad_settings(report, tmp_path, kwargs, message):
    with pytest.raises(core.AlertError, match=message):
        core.alert(report, str(tmp_path / "alert"), **kwargs)
    assert not (tmp_path / "alert").exists()
