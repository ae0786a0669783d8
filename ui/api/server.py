"""The HTTP server's own guard: a connection must finish its request headers in time.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but never a connection that
sends part of a request's headers and then nothing (slowloris): the probe held 900 such connections
open for 30 s. :class:`HeaderTimeoutH11Protocol` arms a timer when a connection opens and after each
response; a request whose headers complete in time cancels it; otherwise the connection is closed.
``qbank serve`` runs uvicorn with it.
"""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0


class HeaderTimeoutH11Protocol(H11Protocol):
    header_timeout = HEADER_TIMEOUT_S

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:  # a request's headers arrived
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        self._arm_header_timer()  # the next request on this connection gets the same deadline
        super().on_response_complete()  # (a pipelined request already buffered cancels it at once)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
        self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()
