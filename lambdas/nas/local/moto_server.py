"""The AWS endpoint: a moto server in a child process (its own interpreter, so its request handling
does not compete with the pollers for one GIL; requests serialised, see moto_main), or attached to
one that is already running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

LOOPBACK = "127.0.0.1"


class MotoStartError(RuntimeError):
    """The moto server did not come up (port taken, moto missing)."""


def endpoint_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def is_listening(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def is_moto(port: int) -> bool:
    """Whether a moto server answers on `port` (its management API is at /moto-api/)."""
    try:
        with urllib.request.urlopen(f"{endpoint_url(port)}/moto-api/data.json", timeout=2) as response:  # noqa: S310 - loopback URL we built
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class MotoProcess:
    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = endpoint_url(port)
        self._process: subprocess.Popen[bytes] | None = None
        self._adopted: int | None = None

    @classmethod
    def adopt(cls, port: int, pid_file: Path) -> MotoProcess | None:
        """The moto server a crashed `nas local` started (its pid recorded in `pid_file`), if that
        is what still listens on `port`: stopping it is then this run's job. None for any other."""
        try:
            pid = int(pid_file.read_text(encoding="ascii").strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _is_local_moto(pid):
            return None
        process = cls(port)
        process._adopted = pid
        return process

    def record_pid(self, pid_file: Path) -> None:
        pid = self._process.pid if self._process is not None else self._adopted
        if pid is not None:
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            pid_file.write_text(str(pid), encoding="ascii")

    def start(self, timeout_s: float = 30.0) -> None:
        if is_listening(self.port):
            raise MotoStartError(
                f"port {self.port} is in use (pass --reuse to attach to a moto server there)"
            )
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "nas.local.moto_main", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to us; we stop moto in order, after the pollers
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MotoStartError(f"moto server exited with status {self._process.returncode}")
            if is_moto(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise MotoStartError(f"moto server did not answer on port {self.port} within {timeout_s:g} s")

    def stop(self) -> None:
        adopted, self._adopted = self._adopted, None
        if adopted is not None:
            _terminate(adopted)
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _is_local_moto(pid: int) -> bool:
    """Whether `pid` is alive and, where /proc tells, runs local mode's moto server."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        return b"nas.local.moto_main" in cmdline.read_bytes()
    return True


def _terminate(pid: int, timeout_s: float = 10.0) -> None:
    """Stops a process that is not our child (no wait() for it): TERM, then KILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def no_delay(connection: socket.socket) -> None:
    """Sends each write at once. A response goes out as headers, then body: with Nagle's algorithm
    the body waits for the client's delayed ACK of the headers, 40 ms on every kept-alive call."""
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
