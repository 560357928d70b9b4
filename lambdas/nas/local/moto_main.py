"""`python -m nas.local.moto_main PORT`: moto's server with every request handled under one lock.

moto's backends are not thread-safe (Kinesis numbers a shard's records as "last + 1", so two
concurrent PutRecords can take the same sequence number and one record is lost). The threaded
server still accepts connections concurrently; the lock makes each AWS call atomic. Under one GIL
the lock costs little: moto's request handling is CPU-bound Python either way.
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

from nas.local import fast_kinesis
from nas.local.moto_server import LOOPBACK


class Serialised:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            # Materialise the body inside the lock: moto builds responses lazily in places.
            return list(self._app(environ, start_response))


def main(argv: list[str]) -> None:
    port = int(argv[0])
    # A log line per request costs moto's one core more than some requests do; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    fast_kinesis.install()
    app = DomainDispatcherApplication(create_backend_app)
    served = Serialised(fast_kinesis.KinesisFastPath(app))
    run_simple(LOOPBACK, port, served, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1:])
