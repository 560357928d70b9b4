"""Local mode's logs: JSON lines in a file (`.nas-local.log`), not the terminal, each naming the
function and service that wrote it.

In AWS each function has its own process and its own `POWERTOOLS_SERVICE_NAME`; locally match,
archive, the api and the scheduled jobs share one process and one powertools Logger, whose keys are
global (and whose service was fixed when it was first imported). Each local thread therefore sets
its function and service as thread-local keys (`log_as`), which powertools prefers to global ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from nas.observability import logger

LOG_FILE = ".nas-local.log"
LOCAL_SERVICE = "nas-local"


def service_of(function: str) -> str:
    """The service name CDK gives a function (`infra.constructs.runtime.LambdaRuntime.service_name`)."""
    return f"nas-{function.lower()}"


def log_as(*, function_name: str, service: str) -> None:
    """Log lines from the calling thread name this function and service."""
    logger.thread_safe_append_keys(function_name=function_name, service=service)


@contextmanager
def logging_as(*, function_name: str, service: str) -> Iterator[None]:
    """`log_as` for one call made on a thread that goes on to do other work (a scheduled job's
    last run happens on the thread that stops local mode)."""
    log_as(function_name=function_name, service=service)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(["function_name", "service"])


class LocalLogs:
    """Routes the powertools logger and the standard library's loggers to one JSON-lines file while
    local mode runs; `close` puts things back."""

    def __init__(self, path: Path, *, level: int = logging.INFO) -> None:
        self.path = path
        self._level = level
        self._file: IO[str] | None = None
        self._handler: logging.Handler | None = None
        self._saved: tuple[IO[str] | None, int, bool, int] | None = None

    def open(self) -> None:
        self._file = self.path.open("a", encoding="utf-8", buffering=1)
        powertools = logging.getLogger(logger.name)
        handler = logger.registered_handler
        stream = handler.setStream(self._file) if isinstance(handler, logging.StreamHandler) else None
        self._saved = (stream, powertools.level, powertools.propagate, logging.root.level)
        powertools.setLevel(self._level)
        powertools.propagate = False  # its own handler writes it; the root's would write it twice
        logger.append_keys(service=LOCAL_SERVICE)
        self._handler = logging.StreamHandler(self._file)
        self._handler.setFormatter(LambdaPowertoolsFormatter(service=LOCAL_SERVICE))
        logging.root.addHandler(self._handler)
        if logging.root.level > self._level or logging.root.level == logging.NOTSET:
            logging.root.setLevel(self._level)
        for noisy in ("botocore", "urllib3", "werkzeug"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

    def close(self) -> None:
        if self._saved is None:
            return
        stream, level, propagate, root_level = self._saved
        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler) and stream is not None:
            handler.setStream(stream)
        powertools = logging.getLogger(logger.name)
        powertools.setLevel(level)
        powertools.propagate = propagate
        if self._handler is not None:
            logging.root.removeHandler(self._handler)
            self._handler = None
        logging.root.setLevel(root_level)
        if self._file is not None:
            self._file.close()
            self._file = None
        self._saved = None
