"""The `/metrics` HTTP endpoint: Prometheus' text format of one registry, served from its own thread.

prometheus-client's own `start_http_server` does the same but polls for its
shutdown every half second, which every server stop (and every test) would
wait out; this one is built from the library's WSGI app with a short poll,
and reports the port it bound, so that port 0 works.
"""

from __future__ import annotations

import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from server.config import split_host_port

_SHUTDOWN_POLL_S = 0.05


class MetricsAddressInUse(OSError):
    """WALLET_METRICS_ADDR is taken or cannot be bound."""


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a log line each."""


class _Server4(ThreadingWSGIServer):
    address_family = socket.AF_INET


class _Server6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class MetricsEndpoint:
    """Serves `registry` on `address` (host:port) until `stop()`."""

    def __init__(self, address: str, registry: CollectorRegistry) -> None:
        host, port = split_host_port(address, "WALLET_METRICS_ADDR")
        server_class = _Server6 if ":" in host else _Server4
        try:
            self._httpd = make_server(host, port, make_wsgi_app(registry), server_class, handler_class=_Quiet)
        except OSError as error:
            raise MetricsAddressInUse(
                f"cannot serve metrics on {address}: {error.strerror or error}; set WALLET_METRICS_ADDR"
                " to another address (port 0: any free port; empty: no metrics endpoint)"
            ) from error
        self.host = host
        self.port: int = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": _SHUTDOWN_POLL_S}, name="metrics", daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
