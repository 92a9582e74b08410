"""A real HTTP server on 127.0.0.1 that records POSTs and answers with scripted statuses."""
import http.server
import json
import threading

import pytest


class Recorder:
    def __init__(self, statuses):
        self.statuses = list(statuses)     # answers in order; the last one repeats
        self.requests = []                 # (path, headers, parsed JSON body)


@pytest.fixture
def webhook():
    """``webhook(statuses) -> (url, recorder)``: a server answering ``statuses`` in turn."""
    servers = []

    def start(statuses=(200,)):
        recorder = Recorder(statuses)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.requests.append((self.path, dict(self.headers), json.loads(body)))
                index = min(len(recorder.requests), len(recorder.statuses)) - 1
                status = recorder.statuses[index]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": %s}' % (b"true" if status < 300 else b"false"))

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/hooks/drift?token=s3cret", recorder

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def report():
    """A monitoring report (the shape monitor's report.json has) with two findings."""
    return {
        "kind": "kfp-mlops.monitoring-report", "version": 1, "drift_detected": True,
        "reasons": ["training-serving skew of feature 'island': L_INFTY 0.4612 > threshold 0.3",
                    "drift since the previous batch of feature 'body_mass_g': "
                    "JENSEN_SHANNON_DIVERGENCE 0.3665 > threshold 0.3"],
        "findings": [
            {"kind": "skew", "feature": "island", "metric": "L_INFTY", "value": 0.4612,
             "threshold": 0.3,
             "message": "training-serving skew of feature 'island': L_INFTY 0.4612 > "
                        "threshold 0.3"},
            {"kind": "drift", "feature": "body_mass_g", "metric": "JENSEN_SHANNON_DIVERGENCE",
             "value": 0.3665, "threshold": 0.3,
             "message": "drift since the previous batch of feature 'body_mass_g': "
                        "JENSEN_SHANNON_DIVERGENCE 0.3665 > threshold 0.3"}],
        "model": {"name": "penguins", "version": "1", "registry": "/r", "ref": "champion"},
        "batch": {"rows": 150, "splits": {"train": 150}},
        "monitoring_entry": "/r/penguins/versions/1/monitoring/000002-x",
        "monitored_at": "2024-06-11T00:00:00+00:00", "run_name": "monitoring-1",
    }
