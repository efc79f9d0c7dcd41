"""Loaded by every Python process the test suite starts (kernels included): forbid network access.

The course must run offline. This module replaces ``socket.socket.connect`` (and ``connect_ex``,
``getaddrinfo`` and ``create_connection``) so that any attempt to reach an address outside the
loopback range raises ``ConnectionRefusedError`` naming the address. Loopback stays open because
Jupyter kernels talk to their clients over it (ZeroMQ uses its own C sockets anyway).
"""

import ipaddress
import socket

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard(address):
    if not _is_local(address):
        raise ConnectionRefusedError(f"network access blocked by the course's offline test guard: {address!r}")


def _connect(self, address):
    _guard(address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _guard(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    if not _is_local((host,)):
        raise ConnectionRefusedError(f"network access blocked by the course's offline test guard: {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.getaddrinfo = _getaddrinfo
socket.NETWORK_BLOCKED_FOR_TESTS = True
