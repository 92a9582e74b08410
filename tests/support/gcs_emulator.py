"""A Cloud Storage emulator for the tests: gcp-storage-emulator, plus the preconditions.

Run as ``python gcs_emulator.py --host 127.0.0.1 --port N``. It serves Cloud Storage's JSON
API (what gcsfs and google-cloud-storage speak) from memory.

gcp-storage-emulator ignores the ``ifGenerationMatch`` / ``ifGenerationNotMatch``
preconditions, which the registry relies on for create-only and compare-and-set writes.
Cloud Storage defines them in "Request preconditions"
(https://cloud.google.com/storage/docs/request-preconditions): ``ifGenerationMatch=0``
succeeds only when no live object has the name; any other value only when the live
object's generation equals it; a failed precondition is HTTP 412. This script enforces
them for uploads (media, multipart and resumable; for a resumable upload the condition is
sent when the session starts and checked when the object is written, as Cloud Storage
does) and for deletes, so a local run fails where Cloud Storage would.
"""
import argparse
import json
import logging
import threading
from http import HTTPStatus
from urllib.parse import parse_qs, urlparse

from gcp_storage_emulator import server  # the emulator module (it holds Router and Server)
from gcp_storage_emulator.storage import Storage

_request = threading.local()


class PreconditionFailed(Exception):
    pass


def _conditions(query):
    return {k: query[k][0] for k in ("ifGenerationMatch", "ifGenerationNotMatch") if k in query}


def _check(storage, bucket, name, conditions):
    live = storage.objects.get(bucket, {}).get(name)
    generation = str(live["generation"]) if live else "0"
    match = conditions.get("ifGenerationMatch")
    if match is not None and str(int(match)) != generation:
        raise PreconditionFailed(f"ifGenerationMatch={match}; the live generation is {generation}")
    not_match = conditions.get("ifGenerationNotMatch")
    if not_match is not None and str(int(not_match)) == generation:
        raise PreconditionFailed(f"ifGenerationNotMatch={not_match} matches the live object")


class PreconditionStorage(Storage):
    """Storage that applies the request's preconditions where an object is written or deleted."""

    _resumable_conditions = {}

    def create_resumable_upload(self, bucket_name, file_name, file_obj):
        file_id = super().create_resumable_upload(bucket_name, file_name, file_obj)
        conditions = _conditions(getattr(_request, "query", {}))
        if conditions:
            _check(self, bucket_name, file_name, conditions)
            self._resumable_conditions[file_id] = conditions
        return file_id

    def create_file(self, bucket_name, file_name, content, file_obj, file_id=None):
        conditions = (self._resumable_conditions.pop(file_id, None) if file_id
                      else _conditions(getattr(_request, "query", {})))
        if conditions:
            _check(self, bucket_name, file_name, conditions)
        return super().create_file(bucket_name, file_name, content, file_obj, file_id)

    def delete_file(self, bucket_name, file_name):
        conditions = _conditions(getattr(_request, "query", {}))
        if conditions:
            _check(self, bucket_name, file_name, conditions)
        return super().delete_file(bucket_name, file_name)


_handle = server.Router.handle


def _handle_with_preconditions(self, method):
    _request.query = parse_qs(urlparse(self._request_handler.path).query)
    try:
        return _handle(self, method)
    except PreconditionFailed as e:
        body = json.dumps({"error": {"code": 412, "message": str(e),
                                     "errors": [{"reason": "conditionNotMet",
                                                 "message": str(e)}]}}).encode()
        handler = self._request_handler
        handler.send_response(HTTPStatus.PRECONDITION_FAILED.value, "Precondition Failed")
        handler.send_header("Content-type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    finally:
        _request.query = {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if not args.host.startswith("127."):
        raise SystemExit("the test emulator listens on loopback only")
    logging.basicConfig(level=logging.WARNING)
    server.Router.handle = _handle_with_preconditions
    server.Storage = PreconditionStorage  # server.Server builds its storage from this name
    emulator = server.create_server(args.host, args.port, in_memory=True)
    emulator.run()


if __name__ == "__main__":
    main()
