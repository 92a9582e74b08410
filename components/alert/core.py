"""Deliver a monitoring report: Cloud Logging entries, a webhook and a Pub/Sub topic.

Plain Python, no kfp. The monitor step has already written its report (``report.json``)
before this runs, so a failed delivery never loses it. For every report:

* **Cloud Logging**: one JSON object per line on stdout, in the structured format the
  logging agents of Vertex AI, GKE and Cloud Run parse, as google-cloud-logging's own
  ``StructuredLogHandler`` writes it (``severity``, ``message``,
  ``logging.googleapis.com/labels``, ``.../sourceLocation``, ...; every other field becomes
  a ``jsonPayload`` field): a summary entry (``WARNING`` with findings, ``INFO`` without)
  and one ``WARNING`` entry per finding, so log-based metrics and alerting policies can
  count them;
* **webhook** (optional): an HTTP POST of the JSON alert with ``urllib``, retried (tenacity)
  on connection errors, timeouts, HTTP 429 and 5xx with exponential backoff, at most
  ``max_attempts`` tries; other 4xx answers are not retried (the request is wrong);
* **Pub/Sub** (optional): ``PublisherClient().publish(topic, data=<json>, **attributes)``
  with the same bounded retries.

Webhook and Pub/Sub are used only when the report has findings (or ``notify_always``). A
delivery that fails after its tries -- or a webhook URL that :func:`check_webhook_url`
refuses -- is logged (ERROR) and recorded in the result (``delivered`` false, the reason);
it fails the task only with ``fail_on_delivery_error`` (after the result is written).

A webhook URL is a credential (user and password, a token in its path or query). It is
never recorded: every log line, the metadata and ``alert.json`` show it as
``scheme://host/…`` (:mod:`kfp_mlops.components._shared.redact`), and error messages are
scrubbed of its parts. ``webhook_url_env`` names an environment variable holding the URL,
so that the URL is not a pipeline argument at all (not in the compiled spec, the run's
parameters or the executor input).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, Optional, TextIO

from kfp_mlops.components._shared import redact

logger = logging.getLogger(__name__)

ALERT_FILE = "alert.json"
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_TIMEOUT_SECONDS = 10.0
_TOPIC = re.compile(r"projects/[^/\s\x00-\x1f\x7f]+/topics/[^/\s\x00-\x1f\x7f]+")
_RETRY_STATUS = (408, 425, 429)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AlertError(ValueError):
    """An alert input (report, URL, topic, retry setting) is not usable."""


class DeliveryError(RuntimeError):
    """A delivery failed after every try (raised only with fail_on_delivery_error)."""


@dataclasses.dataclass
class Delivery:
    """The outcome of one channel: where, whether it arrived, and every try."""

    channel: str                  # "webhook" or "pubsub"
    target: str
    delivered: bool
    attempts: int
    errors: List[str]
    response: str = ""            # HTTP status, or the Pub/Sub message id

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class AlertResult:
    drift_detected: bool
    notified: bool                # whether webhook/Pub/Sub were asked to deliver
    reason: str                   # why (not) notified
    log_entries: int
    deliveries: List[Delivery]
    payload: Dict[str, Any]

    @property
    def delivered(self) -> bool:
        """True when every delivery attempted arrived (vacuously true with none)."""
        return all(d.delivered for d in self.deliveries)

    @property
    def failures(self) -> List[Delivery]:
        return [d for d in self.deliveries if not d.delivered]

    def metadata(self) -> Dict[str, Any]:
        return {
            "drift_detected": self.drift_detected,
            # drift or performance (monitor/report.py): says what drift_detected means
            "check": self.payload.get("check", "drift"),
            "notified": self.notified,
            "reason": self.reason,
            "delivered": self.delivered,
            "log_entries": self.log_entries,
            "deliveries": [d.to_dict() for d in self.deliveries],
            "failed_channels": [d.channel for d in self.failures],
            "delivery_errors": [f"{d.channel} {d.target}: {d.errors[-1] if d.errors else ''}"
                                for d in self.failures],
            "model_name": self.payload.get("model_name", ""),
            "model_version": self.payload.get("model_version", ""),
        }

    def to_json(self) -> Dict[str, Any]:
        out = self.metadata()
        out["payload"] = self.payload
        return out


# ----------------------------------------------------------------------------- payload

def alert_payload(report: Mapping[str, Any], report_uri: str = "", html_uri: str = "",
                  run_name: str = "") -> Dict[str, Any]:
    """The message every channel carries: the decision, its findings and where to read more."""
    from kfp_mlops.components.monitor import report as monitoring_report

    model = report.get("model") or {}
    return {
        "kind": "kfp-mlops.drift-alert",
        # drift (monitor) or performance (performance monitoring): one report format
        "check": monitoring_report.check_of(dict(report)),
        "headline": monitoring_report.headline(dict(report)),
        "drift_detected": bool(report.get("drift_detected")),
        "model_name": model.get("name", ""),
        "model_version": str(model.get("version", "")),
        "registry": model.get("registry", ""),
        "rows": (report.get("batch") or {}).get("rows"),
        "reasons": list(report.get("reasons") or []),
        "findings": list(report.get("findings") or []),
        "monitoring_entry": report.get("monitoring_entry", ""),
        "monitored_at": report.get("monitored_at", ""),
        "run_name": run_name or report.get("run_name", ""),
        "report_uri": report_uri,
        "html_report_uri": html_uri,
    }


def _summary_message(payload: Mapping[str, Any]) -> str:
    who = f"model {payload['model_name']!r} version {payload['model_version']}"
    headline = payload.get("headline") or ("drift detected" if payload["drift_detected"]
                                           else "no drift")
    if payload["drift_detected"]:
        return (f"kfp-mlops monitoring: {headline} for {who}: "
                f"{len(payload['findings'])} finding(s): " + "; ".join(payload["reasons"]))
    return f"kfp-mlops monitoring: {headline} for {who} ({payload['rows']} rows)"


# ----------------------------------------------------------------------------- logging

@dataclasses.dataclass
class LogEntry:
    """One Cloud Logging entry: what google-cloud-logging's structured handler writes."""

    severity: str                 # a logging level name: INFO, WARNING
    message: str
    labels: Dict[str, str]        # logging.googleapis.com/labels
    fields: Dict[str, Any]        # the entry's other jsonPayload fields


def log_entries(payload: Mapping[str, Any], labels: Optional[Mapping[str, str]] = None
                ) -> List[LogEntry]:
    """Cloud Logging structured entries: a summary, then one per finding."""
    base_labels = {"component": "kfp-mlops-monitoring",
                   "model_name": str(payload.get("model_name", "")),
                   "model_version": str(payload.get("model_version", ""))}
    base_labels.update({str(k): str(v) for k, v in (labels or {}).items()})
    detected = bool(payload.get("drift_detected"))
    summary = {"event": "monitoring_summary"}
    summary.update({k: v for k, v in payload.items() if k != "kind"})
    entries = [LogEntry("WARNING" if detected else "INFO", _summary_message(payload),
                        dict(base_labels), summary)]
    for finding in payload.get("findings") or []:
        fields = {"event": "monitoring_finding",
                  "model_name": payload.get("model_name", ""),
                  "model_version": payload.get("model_version", ""),
                  "run_name": payload.get("run_name", ""),
                  "report_uri": payload.get("report_uri", "")}
        fields.update({k: v for k, v in finding.items() if k != "message"})
        entries.append(LogEntry("WARNING", finding.get("message", ""),
                                dict(base_labels, finding_kind=str(finding.get("kind", ""))),
                                fields))
    return entries


def write_log_entries(entries: List[LogEntry], stream: Optional[TextIO] = None) -> int:
    """Writes one JSON object per line, formatted by google-cloud-logging's
    ``StructuredLogHandler`` (``google/cloud/logging_v2/handlers/structured_log.py``: its
    ``format`` puts a record's ``json_fields`` into the payload and ``labels`` under
    ``logging.googleapis.com/labels``, and drops the fields Cloud Logging reserves).

    Only its ``format`` is used: its ``emit`` would also write, once per process, a
    diagnostic entry of its own (``emit_instrumentation_info``) into the same stream.
    """
    from google.cloud.logging_v2.handlers import StructuredLogHandler

    stream = stream if stream is not None else sys.stdout
    handler = StructuredLogHandler(stream=stream, json_encoder_cls=_JSONEncoder)
    for entry in entries:
        # No logger name: the handler's filter would add it as a python_logger label.
        record = logging.LogRecord("", logging.getLevelName(entry.severity), __file__, 0,
                                   entry.message, None, None, func="alert")
        record.json_fields = dict(entry.fields)
        record.labels = dict(entry.labels)
        record.source_location = {"file": "kfp_mlops/components/alert/core.py",
                                  "function": "alert"}
        handler.filter(record)    # CloudLoggingFilter: labels, trace, source location
        stream.write(handler.format(record) + "\n")
    stream.flush()
    return len(entries)


class _JSONEncoder(json.JSONEncoder):
    """Whatever JSON cannot hold (a datetime) as its text, as ``json.dumps(default=str)``."""

    def default(self, o: Any) -> Any:
        return str(o)


# ----------------------------------------------------------------------------- retries

def _with_retries(channel: str, target: str, send: Callable[[], str],
                  retryable: Callable[[Exception], bool], max_attempts: int,
                  backoff_seconds: float, sleep: Callable[[float], None],
                  secrets: List[str] = ()) -> Delivery:
    """``send`` with tenacity: at most ``max_attempts`` tries, retried while ``retryable``,
    waiting ``backoff_seconds`` doubled before each next try. Never raises.

    ``target`` is shown as given (already redacted); every error message is scrubbed of
    ``secrets`` and URL credentials before it is logged or recorded."""
    import tenacity

    errors: List[str] = []

    def attempt() -> str:
        try:
            return send()
        except Exception as e:  # every failure is recorded; only some are retried
            message = redact.text(f"{type(e).__name__}: {e}", secrets)
            errors.append(f"try {len(errors) + 1}: {message}")
            logger.warning("%s delivery to %s failed (try %d of %d): %s", channel, target,
                           len(errors), max_attempts, message)
            raise

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=tenacity.wait_exponential(multiplier=backoff_seconds, exp_base=2),
        retry=tenacity.retry_if_exception(retryable), sleep=sleep, reraise=True)
    try:
        response = retrying(attempt)
    except Exception:  # recorded by attempt(); the delivery failed
        logger.error("%s delivery to %s FAILED after %d tries; the report is kept: %s",
                     channel, target, len(errors), errors[-1] if errors else "")
        return Delivery(channel, target, False, len(errors), errors)
    tries = len(errors) + 1
    logger.info("%s delivery to %s succeeded on try %d: %s", channel, target, tries, response)
    return Delivery(channel, target, True, tries, errors, response)


def _http_retryable(error: Exception) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code in _RETRY_STATUS
    return isinstance(error, (urllib.error.URLError, TimeoutError, ConnectionError, OSError))


def post_webhook(url: str, payload: Mapping[str, Any], max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 headers: Optional[Mapping[str, str]] = None,
                 sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POSTs ``payload`` as JSON to ``url`` with bounded retries; never raises."""
    body = json.dumps(payload, default=str).encode("utf-8")
    all_headers = {"Content-Type": "application/json", "User-Agent": "kfp-mlops-alert"}
    all_headers.update(headers or {})
    secrets = redact.secret_parts(url)
    url, credentials = _split_credentials(url)
    if credentials:
        all_headers.setdefault("Authorization", credentials)

    def send() -> str:
        request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            response.read()
            return f"HTTP {response.status}"

    return _with_retries("webhook", redact.url(url), send, _http_retryable, max_attempts,
                         backoff_seconds, sleep, secrets=secrets)


def _split_credentials(url: str):
    """``(url without user:password@, "Basic ..." header or "")``: urllib sends no user
    information itself (it would take ``user:password@host`` for a host with a bad port)."""
    import base64

    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, ""
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), f"Basic {token}"


def publish_pubsub(topic: str, payload: Mapping[str, Any],
                   attributes: Optional[Mapping[str, str]] = None,
                   max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                   backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
                   timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                   sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Publishes ``payload`` as JSON to ``topic`` with bounded retries; never raises."""
    from google.cloud import pubsub_v1

    data = json.dumps(payload, default=str).encode("utf-8")
    attrs = {str(k): str(v) for k, v in (attributes or {}).items()}
    client: List[Any] = []

    def send() -> str:
        if not client:
            client.append(pubsub_v1.PublisherClient())
        future = client[0].publish(topic, data=data, **attrs)
        return f"message {future.result(timeout=timeout_seconds)}"

    return _with_retries("pubsub", topic, send, lambda e: True, max_attempts,
                         backoff_seconds, sleep)


# ----------------------------------------------------------------------------- alert

def check_webhook_url(webhook_url: str) -> str:
    """Empty, or an ``http``/``https`` URL with a host, in printable ASCII with no space.

    ``urllib`` only finds out when it sends: CPython's ``http/client.py``
    ``HTTPConnection._validate_path`` / ``_validate_host`` refuse ``[\\x00-\\x20\\x7f]``
    (``InvalidURL``) and ``putrequest`` encodes the request line as ASCII
    (``UnicodeEncodeError``), so such a URL would fail at delivery, after the run; and
    ``urllib.parse`` drops tabs and line breaks (``_UNSAFE_URL_BYTES_TO_REMOVE``), so a URL
    holding one would be posted to, silently, as another URL.

    Raises:
        AlertError (a ValueError) naming ``webhook_url``, with the URL shown redacted
        (``scheme://host/…``): its user, password, path and query may be secrets.
    """
    if webhook_url == "":
        return webhook_url
    expected = ("expected an http(s):// URL with a host and no spaces, control or non-ASCII "
                "characters")
    if not isinstance(webhook_url, str):
        raise AlertError(f"webhook_url of type {type(webhook_url).__name__}: {expected}")
    shown = redact.url(webhook_url)
    bad = sorted({c for c in webhook_url if not " " < c < "\x7f"})
    if bad:
        raise AlertError(f"webhook_url {shown!r} holds {bad!r}: {expected} "
                         "(percent-encode them, e.g. %20 for a space)")
    try:
        parts = urllib.parse.urlsplit(webhook_url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise AlertError(f"webhook_url {shown!r}: {expected} "
                         f"({redact.text(str(e), redact.secret_parts(webhook_url))})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AlertError(f"webhook_url {shown!r}: {expected}")
    return webhook_url


def check_webhook_url_env(webhook_url_env: str) -> str:
    """Empty, or the name of an environment variable (letters, digits, ``_``)."""
    if webhook_url_env and not _ENV_NAME.match(webhook_url_env):
        raise AlertError(f"webhook_url_env {webhook_url_env!r}: expected the name of an "
                         "environment variable (letters, digits, _)")
    return webhook_url_env


def webhook_from_env(name: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """The webhook URL held by the environment variable ``name`` (``webhook_url_env``).

    Raises:
        AlertError: ``name`` is not a variable name, or the variable is unset or empty.
    """
    environ = os.environ if environ is None else environ
    if not name:
        raise AlertError("webhook_url_env: expected the name of an environment variable")
    check_webhook_url_env(name)
    value = environ.get(name, "")
    if not value.strip():
        raise AlertError(f"webhook_url_env {name!r}: the environment variable is not set in "
                         "the task's environment (on Vertex AI / Kubeflow: set it from a "
                         "Secret; see the alert README)")
    return value


def check_pubsub_topic(pubsub_topic: str) -> str:
    """Empty, or ``projects/<project>/topics/<topic>`` with no whitespace or control
    character."""
    if pubsub_topic == "":
        return pubsub_topic
    if not isinstance(pubsub_topic, str) or not _TOPIC.fullmatch(pubsub_topic):
        raise AlertError(f"pubsub_topic {pubsub_topic!r}: expected "
                         "projects/<project>/topics/<topic>")
    return pubsub_topic


def check_settings(webhook_url: str, pubsub_topic: str, max_attempts: int,
                   backoff_seconds: float, timeout_seconds: float,
                   webhook_url_env: str = "") -> None:
    """Every alert setting at once (the pre-run checks use the same functions): raises
    AlertError."""
    if webhook_url and webhook_url_env:
        raise AlertError("webhook_url and webhook_url_env are both set; give one")
    check_webhook_url(webhook_url)
    check_webhook_url_env(webhook_url_env)
    check_pubsub_topic(pubsub_topic)
    if not isinstance(max_attempts, int) or not 1 <= max_attempts <= 10:
        raise AlertError(f"max_attempts must be 1-10, got {max_attempts!r}")
    if backoff_seconds < 0 or timeout_seconds <= 0:
        raise AlertError(f"backoff_seconds must be >= 0 and timeout_seconds > 0, got "
                         f"{backoff_seconds!r} and {timeout_seconds!r}")


def alert(report: Mapping[str, Any], output_dir: str, webhook_url: str = "",
          pubsub_topic: str = "", notify_always: bool = False,
          labels: Optional[Mapping[str, str]] = None,
          max_attempts: int = DEFAULT_MAX_ATTEMPTS,
          backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
          timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
          fail_on_delivery_error: bool = False, report_uri: str = "", html_uri: str = "",
          run_name: str = "", stream: Optional[TextIO] = None,
          sleep: Callable[[float], None] = time.sleep,
          webhook_url_env: str = "") -> AlertResult:
    """Logs the report's findings and delivers them to the webhook and Pub/Sub topic.

    Args:
        report: a monitoring report (``report.json`` of the monitor step).
        output_dir: output directory: ``alert.json`` (what was sent, where, every try).
        webhook_url: http(s) URL that receives a JSON POST; empty: no webhook. A URL that
            :func:`check_webhook_url` refuses is a failed delivery, not a failed task.
        pubsub_topic: ``projects/<project>/topics/<topic>``; empty: no Pub/Sub.
        notify_always: also deliver when there is no finding.
        labels: extra ``logging.googleapis.com/labels`` and Pub/Sub attributes.
        max_attempts: tries per channel (1-10).
        backoff_seconds: wait before the second try; doubled before each next one.
        timeout_seconds: per-try timeout.
        fail_on_delivery_error: raise :class:`DeliveryError` (after ``alert.json`` is
            written) when a channel failed; else the failure is only logged and recorded.
        report_uri / html_uri: where the report artifacts are, sent with the alert.
        run_name: the pipeline run, sent with the alert.
        stream: where log entries go (default stdout).
        sleep: the backoff's sleep (tests pass a no-op).
        webhook_url_env: name of an environment variable holding the webhook URL (instead
            of ``webhook_url``); unset or empty is a failed delivery.
    """
    from kfp_mlops.components._shared import io

    if webhook_url and webhook_url_env:
        raise AlertError("webhook_url and webhook_url_env are both set; give one")
    # The webhook URL is checked when it is used: a refused URL is a failed delivery.
    check_settings("", pubsub_topic, max_attempts, backoff_seconds, timeout_seconds)
    payload = alert_payload(report, report_uri, html_uri, run_name)
    entries = write_log_entries(log_entries(payload, labels), stream)
    detected = payload["drift_detected"]
    webhook = bool(webhook_url or webhook_url_env)
    channels = [c for c, on in (("webhook", webhook), ("pubsub", pubsub_topic)) if on]
    notify = bool(channels) and (detected or notify_always)
    if not channels:
        reason = "no webhook_url or pubsub_topic: findings are only logged"
    elif not notify:
        reason = "no finding: nothing to deliver (notify_always is false)"
    else:
        reason = ("findings: " if detected else "notify_always: ") + ", ".join(channels)
    deliveries: List[Delivery] = []
    if notify:
        attrs = {"model_name": payload["model_name"], "model_version": payload["model_version"],
                 "drift_detected": str(detected).lower(),
                 "finding_count": str(len(payload["findings"]))}
        attrs.update({str(k): str(v) for k, v in (labels or {}).items()})
        if webhook:
            deliveries.append(_webhook(webhook_url, webhook_url_env, payload, max_attempts,
                                       backoff_seconds, timeout_seconds, sleep))
        if pubsub_topic:
            deliveries.append(publish_pubsub(pubsub_topic, payload, attrs, max_attempts,
                                             backoff_seconds, timeout_seconds, sleep=sleep))
    for failed in (d for d in deliveries if not d.delivered):
        logger.error("alert: %s delivery to %s did not arrive%s: %s", failed.channel,
                     failed.target, "" if fail_on_delivery_error else
                     " (recorded; the task goes on: fail_on_delivery_error is false)",
                     failed.errors[-1] if failed.errors else "")
    logger.info("alert: %s", reason)
    result = AlertResult(detected, notify, reason, entries, deliveries, payload)
    with io.output_dir(output_dir) as out:
        io.write_json(os.path.join(out, ALERT_FILE), result.to_json())
    if result.failures and fail_on_delivery_error:
        raise DeliveryError("alert delivery failed for " + ", ".join(
            f"{d.channel} {d.target} ({d.attempts} tries: {d.errors[-1]})"
            for d in result.failures) + f"; the report and {ALERT_FILE} are kept")
    return result


def _webhook(webhook_url: str, webhook_url_env: str, payload: Mapping[str, Any],
             max_attempts: int, backoff_seconds: float, timeout_seconds: float,
             sleep: Callable[[float], None]) -> Delivery:
    """The webhook delivery; a URL that cannot be used is a failed delivery with its reason."""
    target = f"${webhook_url_env}" if webhook_url_env else redact.url(webhook_url)
    try:
        url = webhook_from_env(webhook_url_env) if webhook_url_env else webhook_url
        check_webhook_url(url)
    except AlertError as e:
        logger.error("webhook delivery to %s refused: %s", target, e)
        return Delivery("webhook", target, False, 0, [f"refused: {e}"])
    delivery = post_webhook(url, payload, max_attempts, backoff_seconds, timeout_seconds,
                            sleep=sleep)
    if webhook_url_env:
        delivery.target = f"{redact.url(url)} (from ${webhook_url_env})"
    return delivery
