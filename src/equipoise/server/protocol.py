"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm switched off on every connection.

With ``--workers`` > 1, uvicorn hands the listening socket to worker processes, and asyncio then leaves
TCP_NODELAY unset on accepted connections (it only sets it on sockets it recognises as TCP). A response
written in two segments then waits for the client's delayed ACK: about 40 ms added to every request. Setting
the option ourselves removes that stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]
