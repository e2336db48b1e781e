"""HTTP to addresses users name (downloads, webhooks, polled APIs) that connects to public
addresses only: the check is made on the address actually connected to, not on an earlier
lookup of the name."""

from __future__ import annotations

from typing import Any

import httpcore
import httpx

from fleetlake.platform.fetch import public_address


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Resolves and checks the host when connecting, then connects to the very address it
    checked: a name that answers a public address to the first check and a private one to
    the connection (DNS rebinding) is refused, for every hop of a redirect alike."""

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        address = public_address(host, port, label=f"{host}:{port}")
        return super().connect_tcp(address, port, *args, **kwargs)


def guarded_client(*, timeout_s: float, allow_private: bool, **options: Any) -> httpx.Client:
    """An httpx client for URLs users give (downloads, webhooks, polled APIs): redirects are
    not followed by it, and unless `allow_private` it connects to public addresses only.
    TLS still verifies the certificate for the URL's host name, not the address."""
    transport = httpx.HTTPTransport()
    if not allow_private:  # httpx takes no network backend of its own: its pool is replaced
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_PublicOnlyBackend()
        )
    return httpx.Client(timeout=timeout_s, follow_redirects=False, transport=transport, **options)
