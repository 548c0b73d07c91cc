"""Listening sockets from `--web.listen-address` values, with errors that name the address.

Bound here rather than by uvicorn so an empty host listens on IPv4 and IPv6 as
Go's net.Listen does, and every accepted connection gets TCP_NODELAY.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

BACKLOG = 128


class ServeError(Exception):
    """The server could not start; the message names the address and says why."""


def parse_listen_address(address: str) -> tuple[str, int]:
    """`host:port` (host may be empty or a [bracketed] IPv6 address) to (host, port)."""
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ServeError(f"invalid listen address {address!r}: expected host:port, e.g. :9101")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ServeError(f"invalid listen address {address!r}: put an IPv6 address in brackets, e.g. [::1]:9101")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ServeError(f"invalid listen address {address!r}: port must be a number from 0 to 65535")
    return host, int(port_text)


def _listening_socket(family: int, sockaddr: Any, *, dualstack: bool = False) -> socket.socket:
    # proto must be IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on connections accepted
    # from such a socket, and without it every reply on a kept-alive connection waits ~40 ms
    # (Nagle's algorithm against the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dualstack else 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def bind(address: str) -> socket.socket:
    host, port = parse_listen_address(address)
    try:
        if host in ("", "::") and socket.has_dualstack_ipv6():
            # Like Go's net.Listen: an empty host or [::] listens on IPv4 and IPv6.
            return _listening_socket(socket.AF_INET6, ("::", port), dualstack=True)
        if host == "":
            return _listening_socket(socket.AF_INET, ("0.0.0.0", port))
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, sockaddr = infos[0]
        return _listening_socket(family, sockaddr)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {address}: cannot resolve {host!r}: {exc.strerror}") from None
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise ServeError(f"cannot listen on {address}: {reason}") from None
