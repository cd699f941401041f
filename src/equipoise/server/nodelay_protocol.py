"""uvicorn's HTTP/1.1 protocol (httptools' C parser) with Nagle's algorithm switched off on every connection.

With ``--workers`` > 1, uvicorn hands the listening socket to worker processes, and the event loop may then
leave TCP_NODELAY unset on accepted connections (asyncio only sets it on sockets it recognises as TCP). A
response written in two segments then waits for the client's delayed ACK: about 40 ms added to every request.
Setting the option ourselves removes that stall.

httptools parses requests several times faster than the pure-Python h11 (measured with
``benchmarks/server_load.py``), so it is the one the server runs with.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]
