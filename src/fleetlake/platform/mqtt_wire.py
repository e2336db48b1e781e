"""An MQTT 5 subscriber session over a socket, its packets read and written by `mqtt5`
(a sans-I/O codec in Rust).

Why not paho's network loop: taking a QoS 1 stream and acknowledging it cost paho ~60 µs of
Python per message, a ceiling near 15 k messages/s a process; with the codec a read, decoded
and acknowledged message costs ~3 µs, so landing it in bronze is what is left. What this
module keeps: connect (MQTT 5, persistent session, the largest receive window, user and
password, TLS), subscribe and wait for the broker's answer, keep the connection alive, hand
every batch of received messages to a callback, send acknowledgements in batches, and
reconnect with backoff after a lost connection (the broker then resends what was not
acknowledged; an acknowledgement for the lost connection is dropped, never misapplied).
Also the broker's address from a URL and MQTT 5 shared-subscription topics, which every
domain's subscriber uses.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import mqtt5

from fleetlake.errors import InvalidParameter, ServiceError

log = logging.getLogger(__name__)
KEEP_ALIVE_S = 60
# The largest window of unacknowledged messages but one: the codec leaves 65,535 (the
# protocol's default) off the wire, and Mosquitto then applies its own cap (20) instead.
RECEIVE_MAXIMUM = 65_534


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """`mqtt://[user:pass@]host[:1883]` or `mqtts://…[:8883]`."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise InvalidParameter(
                "mqtt", f"{url!r}: use mqtt://host[:port] or mqtts://host[:port]"
            )
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def require_reachable(url: str, *, timeout_s: float = 5.0) -> None:
    """Fail now, once, with the reason, when the broker cannot be reached (before starting
    subscriber processes that would each say it)."""
    import socket

    address = BrokerAddress.parse(url)
    try:
        socket.create_connection((address.host, address.port), timeout=timeout_s).close()
    except OSError as exc:
        raise ServiceError(
            f"cannot reach the MQTT broker at {address.host}:{address.port} ({exc}); "
            "check the URL and that the broker runs"
        ) from exc


def shared_topics(topics: list[str], group: str | None) -> list[str]:
    """Topic filters as members of an MQTT 5 shared subscription (`$share/<group>/<filter>`):
    the broker hands each message to one member of the group."""
    if group is None:
        return list(topics)
    if not group or any(c in group for c in "/+#"):
        raise InvalidParameter("share", f"{group!r}: a share group is a name without / + #")
    return [topic if topic.startswith("$share/") else f"$share/{group}/{topic}" for topic in topics]


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    packet_id: int | None  # None at QoS 0: nothing to acknowledge
    connection: int  # which connection it came on: acknowledgements go back on that one


class MqttSession:
    """One client's session. `start` returns once subscribed; `on_messages` is called on the
    reader thread with each batch read from the socket."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: bool,
        client_id: str,
        topics: list[str],
        on_messages: Callable[[list[Received]], None],
        username: str | None = None,
        password: str | None = None,
        session_expiry_s: int,
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.client_id, self.topics, self.on_messages = client_id, topics, on_messages
        self.username, self.password = username, password
        self.session_expiry_s = session_expiry_s
        self.connection = 0
        self._socket: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._reader = threading.Thread(target=self._read_forever, name="mqtt-read", daemon=True)
        self._pinger = threading.Thread(target=self._ping_forever, name="mqtt-ping", daemon=True)
        self.failure: str | None = None

    def start(self, *, timeout_s: float) -> None:
        self._connect()
        self._reader.start()
        self._pinger.start()
        if not self._subscribed.wait(timeout_s):
            self.close()
            raise ServiceError(
                self.failure or f"the MQTT broker did not accept the subscription in {timeout_s} s"
            )

    def ack(self, received: list[Received]) -> None:
        """Acknowledge these messages, those of the current connection, in one write."""
        data = b"".join(
            mqtt5.PubAckPacket(r.packet_id).write()
            for r in received
            if r.packet_id is not None and r.connection == self.connection
        )
        if not data:
            return
        try:
            self._send(data)
        except OSError as exc:  # durable already: the resumed session sends them again
            log.info("%d acknowledgements not sent (%s); the broker delivers those messages "
                     "again and silver drops the repeats", len(received), exc)  # fmt: skip

    def close(self, *, graceful: bool = True) -> None:
        """Disconnect (graceful: say so to the broker first; otherwise just drop, as a
        process that dies would)."""
        self._stopping.set()
        if graceful:
            with contextlib.suppress(OSError):
                self._send(mqtt5.DisconnectPacket().write())
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        for thread in (self._reader, self._pinger):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(5)

    def _connect(self) -> None:
        try:
            raw = socket.create_connection((self.host, self.port), timeout=10)
        except OSError as exc:
            raise ServiceError(
                f"cannot reach the MQTT broker at {self.host}:{self.port} ({exc}); "
                "check the URL and that the broker runs"
            ) from exc
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = (
            ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)
            if self.tls
            else raw
        )
        sock.settimeout(None)
        self._socket = sock
        self.connection += 1
        connect = mqtt5.ConnectPacket(
            self.client_id,
            username=self.username,
            password=self.password.encode() if self.password is not None else None,
            clean_start=False,
            keep_alive=KEEP_ALIVE_S,
            session_expiry_interval=self.session_expiry_s,
            receive_max=RECEIVE_MAXIMUM,
        )
        subscribe = mqtt5.SubscribePacket(
            1, [mqtt5.TopicFilter(t, max_qos=mqtt5.QoS.AT_LEAST_ONCE) for t in self.topics]
        )
        self._send(connect.write() + subscribe.write())

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            if self._socket is None:
                raise OSError("not connected")
            self._socket.sendall(data)

    def _read_forever(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                self._read_until_closed()
                delay = 1.0
            except (OSError, ValueError) as exc:  # lost, or a packet we cannot read
                if self._stopping.is_set():
                    return
                log.warning("MQTT connection to %s:%s lost: %s", self.host, self.port, exc)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 30.0)
            try:
                self._connect()
            except ServiceError as exc:
                log.warning("%s; trying again in %s s", exc, delay)

    def _read_until_closed(self) -> None:
        buffer = bytearray()
        sock = self._socket
        assert sock is not None
        while True:
            data = sock.recv(1 << 20)
            if not data:
                raise OSError("the broker closed the connection")
            buffer += data
            offset, batch = 0, []
            view = memoryview(buffer)
            try:
                while offset < len(buffer):
                    try:
                        packet, size = mqtt5.read(view[offset:])
                    except IndexError:  # the rest of the packet is still on its way
                        break
                    offset += size
                    if isinstance(packet, mqtt5.PublishPacket):
                        batch.append(Received(packet.topic, packet.payload, packet.packet_id,
                                              self.connection))  # fmt: skip
                    else:
                        self._control(packet)
            finally:
                view.release()
            del buffer[:offset]
            if batch:
                self.on_messages(batch)

    def _control(self, packet: object) -> None:
        if isinstance(packet, mqtt5.ConnAckPacket) and int(packet.reason_code) >= 0x80:
            self.failure = f"the MQTT broker refused the connection: {packet.reason_code.name}"
            raise OSError(self.failure)
        if isinstance(packet, mqtt5.SubAckPacket):
            refused = [code.name for code in packet.reason_codes if int(code) >= 0x80]
            if refused:
                self.failure = f"the MQTT broker refused the subscription: {', '.join(refused)}"
                log.error(self.failure)
                return
            self._subscribed.set()
        if isinstance(packet, mqtt5.DisconnectPacket):
            raise OSError(f"the broker disconnected us: {packet.reason_code.name}")

    def _ping_forever(self) -> None:
        ping = mqtt5.PingReqPacket().write()
        while not self._stopping.wait(KEEP_ALIVE_S / 2):
            with contextlib.suppress(OSError):  # the reader reconnects
                self._send(ping)
