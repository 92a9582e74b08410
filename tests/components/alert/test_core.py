"""Alert delivery: Cloud Logging lines, a real webhook server, Pub/Sub at the API boundary."""
import io as stdio
import json
import os
from unittest import mock

import pytest

from kfp_mlops.components.alert import core


def publisher_client():
    """``pubsub_v1.PublisherClient`` as an autospec of the real class (a call that does not
    fit its signature fails), patched where alert looks it up."""
    from google.cloud import pubsub_v1

    return mock.patch.object(pubsub_v1, "PublisherClient",
                             mock.create_autospec(pubsub_v1.PublisherClient))


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
    # google-cloud-logging's StructuredLogHandler format: its reserved fields, no logger label
    assert summary["logging.googleapis.com/sourceLocation"] == {
        "file": "kfp_mlops/components/alert/core.py", "function": "alert"}
    assert summary["logging.googleapis.com/trace_sampled"] is False
    assert "python_logger" not in summary["logging.googleapis.com/labels"]
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
    with publisher_client() as client_class:
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
    client_class.assert_called_once_with()
    assert result.delivered and result.deliveries[0].response == "message 1234"


def test_pubsub_retries_then_reports(report, tmp_path):
    with publisher_client() as client_class:
        client_class.return_value.publish.side_effect = RuntimeError("503 unavailable")
        result, _ = alert(report, tmp_path, pubsub_topic="projects/p/topics/drift")
    assert not result.delivered and client_class.return_value.publish.call_count == 3


@pytest.mark.parametrize("kwargs,message", [
    ({"webhook_url": "http://h/x", "webhook_url_env": "HOOK"}, "both set"),
    ({"pubsub_topic": "drift"}, "projects/<project>/topics/<topic>"),
    ({"max_attempts": 0}, "max_attempts must be 1-10"),
])
def test_bad_settings(report, tmp_path, kwargs, message):
    with pytest.raises(core.AlertError, match=message):
        core.alert(report, str(tmp_path / "alert"), **kwargs)
    assert not (tmp_path / "alert").exists()


SECRET_URLS = [
    ("http://alice:pa55w0rd-XYZ@127.0.0.1:{port}/hooks/drift", ["pa55w0rd-XYZ", "alice"]),
    ("http://127.0.0.1:{port}/services/T000/B000/XXXXsecretpath", ["XXXXsecretpath",
                                                                   "T000/B000"]),
    ("http://127.0.0.1:{port}/hooks?token=q-t0ken-123", ["q-t0ken-123"]),
]


@pytest.mark.parametrize("template,secrets", SECRET_URLS)
@pytest.mark.parametrize("status", [500, None])       # a server answering 500, or none
def test_no_secret_in_records_logs_or_errors(report, tmp_path, webhook, caplog, template,
                                             secrets, status):
    import logging
    caplog.set_level(logging.DEBUG)
    port = 9
    if status:
        url, server = webhook([status])
        port = int(url.split(":")[2].split("/")[0])
    url = template.format(port=port)
    with pytest.raises(core.DeliveryError) as raised:
        alert(report, tmp_path, webhook_url=url, max_attempts=2, timeout_seconds=2,
              fail_on_delivery_error=True)
    if status and url.startswith("http:"):           # really sent, twice
        assert len(server.requests) == 2
    files = "".join(open(os.path.join(d, f)).read()
                    for d, _, fs in os.walk(tmp_path / "alert") for f in fs)
    saved = json.load(open(tmp_path / "alert" / "alert.json"))
    assert saved["delivered"] is False and saved["deliveries"][0]["attempts"] >= 1
    assert saved["deliveries"][0]["target"].endswith("/…")
    for secret in secrets:
        for where, text in (("alert.json", files), ("log", caplog.text),
                            ("error", str(raised.value)), ("metadata", json.dumps(
                                core.AlertResult(True, True, "", 0, [core.Delivery(
                                    **saved["deliveries"][0])], {}).metadata()))):
            assert secret not in text, (where, secret)


@pytest.mark.parametrize("url", ["http://h.example/x y", "http://h.example/x\n",
                                 " http://h.example/x", "ftp://h.example/x", "http:///x",
                                 "http://h.example:port/x"])
def test_check_webhook_url_refuses(url):
    with pytest.raises(ValueError, match="webhook_url"):
        core.check_webhook_url(url)


def test_check_webhook_url_names_no_secret():
    with pytest.raises(ValueError) as raised:
        core.check_webhook_url("https://u:hunter22@h.example/services/T1/B2/SECRETPATH x")
    assert "hunter22" not in str(raised.value) and "SECRETPATH" not in str(raised.value)
    core.check_webhook_url("https://u:p@h.example:8443/services/T1/B2/C3?token=t")


def test_refused_url_is_a_failed_delivery_not_a_failed_task(report, tmp_path):
    result, _ = alert(report, tmp_path, webhook_url="http://h.example/a b")
    assert not result.delivered and result.deliveries[0].attempts == 0
    assert "refused: webhook_url" in result.deliveries[0].errors[0]
    assert "a b" not in json.dumps(result.metadata())
    assert result.metadata()["delivery_errors"][0].startswith("webhook http://h.example/…")


def test_webhook_url_from_the_environment(report, tmp_path, webhook, monkeypatch):
    url, server = webhook([200])
    monkeypatch.setenv("KFP_MLOPS_TEST_HOOK", url)
    result, _ = alert(report, tmp_path, webhook_url_env="KFP_MLOPS_TEST_HOOK")
    assert result.delivered and server.requests[0][0] == "/hooks/drift?token=s3cret"
    assert "s3cret" not in json.dumps(result.to_json())
    assert result.deliveries[0].target.endswith("(from $KFP_MLOPS_TEST_HOOK)")
    monkeypatch.delenv("KFP_MLOPS_TEST_HOOK")
    result, _ = alert(report, tmp_path / "unset", webhook_url_env="KFP_MLOPS_TEST_HOOK")
    assert not result.delivered and "not set in the task's environment" in \
        result.deliveries[0].errors[0]


def test_user_and_password_are_sent_as_basic_auth(report, tmp_path, webhook):
    import base64
    url, server = webhook([200])
    port = url.split(":")[2].split("/")[0]
    result, _ = alert(report, tmp_path,
                      webhook_url=f"http://alice:pa%40ss-w0rd@127.0.0.1:{port}/hooks/drift")
    assert result.delivered
    path, headers, _ = server.requests[0]
    assert path == "/hooks/drift"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pa@ss-w0rd").decode()
    assert "w0rd" not in json.dumps(result.to_json())
