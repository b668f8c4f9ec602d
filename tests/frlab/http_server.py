"""A small HTTP server on 127.0.0.1 for the asset tests: it serves a folder, with Range support (resumed downloads)
and a record of the requests it answered."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support (SimpleHTTPRequestHandler has none)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
            self.server.range_requests.append(start)
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve(root: Path, handler_class: type = RangeHandler) -> Iterator[tuple[str, http.server.ThreadingHTTPServer]]:
    """Serve ``root`` on 127.0.0.1 (a free port) with ``handler_class`` (a :class:`RangeHandler`):
    yields ``(base URL, server)``."""
    handler = lambda *a, **k: handler_class(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.range_requests, server.requests, server.hub = [], [], {}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
