"""A webhook receiver on 127.0.0.1 that answers every POST with one status (500 by default)."""
import contextlib
import http.server
import threading
from typing import Iterator, List, Tuple


@contextlib.contextmanager
def failing_server(status: int = 500) -> Iterator[Tuple[int, List[str]]]:
    """Yields ``(port, paths)``: the port it listens on, and the path of every POST received."""
    paths: List[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            paths.append(self.path)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], paths
    finally:
        server.shutdown()
        server.server_close()
