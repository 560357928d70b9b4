"""`python -m nas.local.moto_main PORT`: moto's server with every request handled under one lock.

moto's backends are not thread-safe (Kinesis numbers a shard's records as "last + 1", so two
concurrent PutRecords can take the same sequence number and one record is lost). The threaded
server still accepts connections concurrently; the lock makes each AWS call atomic. Under one GIL
the lock costs little: moto's request handling is CPU-bound Python either way.

werkzeug's development server closes every connection after one response (http.server cannot
drain an unread body before the next request line), so each AWS call paid for a new TCP connection
and a new server thread. `KeepAliveHandler` drains each request body itself and keeps the
connection open when the body had a length; chunked bodies still close it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple
from werkzeug.wsgi import LimitedStream

from nas.local import fast_kinesis
from nas.local.moto_server import LOOPBACK, no_delay

log = logging.getLogger(__name__)


class Serialised:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            # Materialise the body inside the lock: moto builds responses lazily in places.
            return list(self._app(environ, start_response))


class KeepAliveHandler(MotoRequestHandler):
    """HTTP/1.1 keep-alive for requests with a Content-Length (see the module docstring). Chunked
    requests go through werkzeug's own handling, which closes the connection."""

    def setup(self) -> None:
        super().setup()
        no_delay(self.connection)

    def run_wsgi(self) -> None:
        expect = self.headers.get("Expect", "").strip().lower()
        if self.headers.get("Transfer-Encoding") or expect not in ("", "100-continue"):
            super().run_wsgi()
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            super().run_wsgi()
            self.close_connection = True
            return
        if expect:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        body = LimitedStream(environ["wsgi.input"], length)
        environ["wsgi.input"] = body
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda _: None  # the legacy write callable; moto does not use it

        try:
            chunks = self.server.app(environ, start_response)
            try:
                payload = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            body.exhaust()  # whatever the app left unread, so the next request line comes next
        except Exception:
            log.exception("error on %s %s", self.command, self.path)
            self.close_connection = True
            started[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]]
            payload = b"Internal Server Error"
        status, headers = started
        code, _, message = status.partition(" ")
        self.send_response(int(code), message)
        declared = next((v for n, v in headers if n.lower() == "content-length"), None)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        # A HEAD response has no body but declares the length a GET would return (S3 HeadObject).
        head_length = declared if self.command == "HEAD" and declared is not None else None
        self.send_header("Content-Length", head_length or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)


def main(argv: list[str]) -> None:
    port = int(argv[0])
    # A log line per request costs moto's one core more than some requests do; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    fast_kinesis.install()
    app = DomainDispatcherApplication(create_backend_app)
    served = Serialised(fast_kinesis.KinesisFastPath(app))
    run_simple(LOOPBACK, port, served, threaded=True, request_handler=KeepAliveHandler)


if __name__ == "__main__":
    main(sys.argv[1:])
