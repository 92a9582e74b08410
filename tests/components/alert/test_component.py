"""The alert shell through ``python_func`` with real KFP artifacts and a real webhook."""
import json

from kfp.dsl import HTML, Artifact

from kfp_mlops.components.alert.component import alert


def test_shell_delivers_and_records(report, tmp_path, webhook, capsys):
    url, server = webhook([503, 200])
    drift_report = Artifact(name="drift_report", uri=str(tmp_path / "drift_report"), metadata={})
    (tmp_path / "drift_report").mkdir()
    (tmp_path / "drift_report" / "report.json").write_text(json.dumps(report))
    html = HTML(name="report", uri=str(tmp_path / "report"), metadata={})
    out = Artifact(name="alert", uri=str(tmp_path / "alert"), metadata={})
    result = alert.python_func(drift_report=drift_report, alert=out, report=html,
                               webhook_url=url, backoff_seconds=0.0, run_name="run-7")
    assert result.delivered is True
    assert out.metadata["delivered"] is True and out.metadata["notified"] is True
    assert out.metadata["deliveries"][0]["attempts"] == 2
    body = server.requests[-1][2]
    assert body["html_report_uri"] == str(tmp_path / "report")
    assert body["report_uri"] == str(tmp_path / "drift_report") and body["run_name"] == "run-7"
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines() if l.startswith("{")]
    assert [l["severity"] for l in lines] == ["WARNING", "WARNING", "WARNING"]
