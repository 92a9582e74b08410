"""No webhook secret reaches a printed line, a summary, a streamed task log or a compiled spec.

The three forms a webhook secret takes -- ``user:password@``, a token in the path (Slack's
``/services/T/B/X``), a token in the query -- are all in one URL, for a real server on
127.0.0.1 that answers 500. Here: the redaction helper, the run summary, and a submit of the
monitoring pipeline with the ``webhook_url_env`` reference; the local monitoring runs that
deliver to it are in test_monitoring_run.py.
"""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.webhook import failing_server

PASSWORD, PATH_TOKEN, QUERY_TOKEN = "pa55w0rd-XYZ", "XXXXsecretpath", "q-t0ken-123"
SECRETS = [PASSWORD, PATH_TOKEN, QUERY_TOKEN, "T000/B000"]


def secret_url(port: int) -> str:
    return (f"http://alice:{PASSWORD}@127.0.0.1:{port}/services/T000/B000/{PATH_TOKEN}"
            f"?token={QUERY_TOKEN}")


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} found in {where}"


def kfp_mlops(*args, env=None):
    script = os.path.join(os.path.dirname(sys.executable), "kfp-mlops")
    return subprocess.run([script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)


def test_submit_with_the_env_reference_records_no_secret(tmp_path):
    with failing_server() as (port, _):
        env = dict(os.environ, ALERT_WEBHOOK_URL=secret_url(port))
        result = kfp_mlops(
            "submit", "monitoring", "--kubeflow", "--host", "http://127.0.0.1:8",
            "--spec-dir", str(tmp_path), "--dry-run",
            "--param", "data_uri=gs://b/batch.csv", "--param", "model_name=penguins",
            "--param", "registry_uri=gs://b/registry",
            "--param", "webhook_url_env=ALERT_WEBHOOK_URL", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    request = json.loads(result.stdout)
    assert request["run"]["arguments"]["webhook_url_env"] == "ALERT_WEBHOOK_URL"
    spec = (tmp_path / "monitoring.yaml").read_text()
    assert "webhook_url_env" in spec
    for where, text in (("stdout", result.stdout), ("stderr", result.stderr), ("spec", spec)):
        assert_no_secret(where, text)


def test_redaction_helper_on_the_three_forms():
    from kfp_mlops.components._shared import redact

    url = secret_url(8080)
    assert redact.url(url) == "http://127.0.0.1:8080/…"
    assert redact.url("https://hooks.slack.com/services/T000/B000/XXXX") == \
        "https://hooks.slack.com/…"
    assert redact.url("https://h.example") == "https://h.example"
    line = f'    "webhook_url": "{url}",'
    assert_no_secret("a scrubbed line", redact.text(line, redact.secret_parts(url)))
    # without knowing the URL: credentials and queries still go, a plain path stays
    assert redact.text(f"to {url} now") == "to http://127.0.0.1:8080/… now"
    assert redact.text("see https://console.example/runs/1") == \
        "see https://console.example/runs/1"


def test_the_secrets_of_a_run_include_env_references(monkeypatch):
    from kfp_mlops.components._shared import redact
    from kfp_mlops.pipelines import local

    monkeypatch.setenv("KFP_MLOPS_TEST_HOOK", secret_url(11))
    params = {"webhook_url": secret_url(9), "nested": {"urls": [secret_url(10)]},
              "webhook_url_env": "KFP_MLOPS_TEST_HOOK"}
    secrets = local.run_secrets(params)
    assert {PASSWORD, QUERY_TOKEN, f"/services/T000/B000/{PATH_TOKEN}"} <= set(secrets)
    shown = redact.value(redact.parameters(params), secrets)
    assert shown["webhook_url"] == "http://127.0.0.1:9/…"
    assert_no_secret("parameters", json.dumps(shown))
    # the URL held by the variable is scrubbed from a streamed line too
    monkeypatch.setattr(local, "_SECRETS", secrets)
    line = local.scrub_log_line(f"POST {secret_url(11).replace('alice:' + PASSWORD + '@', '')}")
    assert_no_secret("a streamed line", line)


@pytest.mark.parametrize("pasted", ["https://h.example/services/T1/B2 SECRETPART",
                                    "https://h.example/services/T1/B2\nSECRETPART\n"])
def test_a_pasted_url_with_whitespace_is_scrubbed_whole(pasted):
    from kfp_mlops.components._shared import redact
    from kfp_mlops.pipelines import local

    secrets = local.run_secrets({"webhook_url": pasted})
    assert redact.parameters({"webhook_url": pasted}) == {"webhook_url": "https://h.example/…"}
    executor_log = json.dumps({"parameterValues": {"webhook_url": pasted}}, indent=4)
    scrubbed = redact.text(executor_log, secrets)
    assert "SECRETPART" not in scrubbed and "T1/B2" not in scrubbed
