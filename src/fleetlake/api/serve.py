"""Run the API server: one process, or several sharing a port with a socket each.

With one shared listening socket (uvicorn's `--workers`), whichever process sits in accept()
takes most of a burst of new connections: seen, one of two processes serving four fifths of a
64-connection load while the other idled. Here every process listens on its own socket bound
with SO_REUSEPORT, and the kernel spreads new connections over them by hash.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import socket
from types import FrameType
from typing import TYPE_CHECKING, Any

from fleetlake.errors import InvalidParameter

if TYPE_CHECKING:
    import uvicorn

APP = "fleetlake.api.app:create_app"


def _config(**extra: Any) -> uvicorn.Config:
    import uvicorn

    # No access log: a record per request costs throughput; errors are still logged.
    return uvicorn.Config(APP, factory=True, log_level="warning", access_log=False, **extra)


def serve(*, host: str, port: int, workers: int) -> None:
    import uvicorn

    _require_free(host, port)  # uvicorn's own message would be a log line and exit code 3
    if workers == 1:
        uvicorn.Server(_config(host=host, port=port)).run()
        return
    context = multiprocessing.get_context("spawn")
    listeners = [_listening_socket(host, port) for _ in range(workers)]
    processes = [context.Process(target=_run_worker, args=(sock,)) for sock in listeners]
    for process in processes:
        process.start()
    for sock in listeners:
        sock.close()  # the workers hold their own copies

    def stop(_signal: int, _frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sentinels = [process.sentinel for process in processes]
    multiprocessing.connection.wait(sentinels)  # one worker gone: take the others down too
    stop(signal.SIGTERM, None)
    for process in processes:
        process.join()


def _require_free(host: str, port: int) -> None:
    """A plain bind first: SO_REUSEPORT alone would let this server silently share the port
    with another one started the same way."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidParameter(
                "port", f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port"
            ) from exc


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_worker(sock: socket.socket) -> None:
    import uvicorn

    uvicorn.Server(_config()).run(sockets=[sock])
