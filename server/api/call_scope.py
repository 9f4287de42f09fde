"""One call's admission and ending, around its handler: authorize, check the body, map errors, log, count, trace.

On entry the caller is authorized (when auth is on) and a body that did not
parse is refused with INVALID_ARGUMENT. Handlers raise `WalletError`s; on exit
this is the one place that turns them (and anything unexpected) into a rich
gRPC status through `server.api.status`, so no stack trace or SQL ever reaches
a caller. Each call ends with one access-log line, its grpc_server_* counts
and the end of its server span (when those are on). The interceptor
(`server.api.interceptors`) runs every handler inside one of these.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
from grpc_status import rpc_status
from opentelemetry.trace import Span

from server.api.access_log import AccessLog
from server.api.auth import Authenticator, authenticated_caller, record_caller
from server.api.status import status_code, to_status
from server.api.undecodable import check_decoded
from server.domain.errors import InternalError, WalletError
from server.observability.rpc_metrics import MethodMetrics
from server.observability.tracing import MethodTracer, log_ids

logger = logging.getLogger("wallet.rpc")


def _as_wallet_error(error: BaseException) -> WalletError:
    if isinstance(error, WalletError):
        return error
    logger.error("unexpected error in handler", exc_info=error)
    return InternalError("Internal error")


async def _abort(context: grpc.aio.ServicerContext, error: WalletError) -> None:
    status = rpc_status.to_status(to_status(error))
    await context.abort(status.code, status.details, status.trailing_metadata)


def _certificate_common_names(context: grpc.aio.ServicerContext) -> list[str]:
    names = (context.auth_context() or {}).get("x509_common_name", [])
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _authorize(authenticator: Authenticator | None, method: str, context: grpc.aio.ServicerContext) -> None:
    """Records the caller for the handler, or raises Unauthenticated / PermissionDenied."""
    if authenticator is None:
        return
    caller = authenticator.authorize(
        method, tuple(context.invocation_metadata() or ()), _certificate_common_names(context)
    )
    if caller is not None:
        record_caller(caller, authenticator.scopes_of(caller))


class Instruments:
    """One method's metrics and tracer, each None when that part of observability is off."""

    __slots__ = ("metrics", "tracer")

    def __init__(self, metrics: MethodMetrics | None, tracer: MethodTracer | None) -> None:
        self.metrics = metrics
        self.tracer = tracer


class CallScope:
    """One call's admission and ending: authorize and check the body on entry; on exit
    write the access-log line, count the call, end its span, and turn what the handler
    raised into its status."""

    __slots__ = (
        "_access_log",
        "_authenticator",
        "_context",
        "_instruments",
        "_method",
        "_request",
        "_span",
        "_started",
        "_token",
    )

    def __init__(
        self,
        method: str,
        request: Any,
        context: grpc.aio.ServicerContext,
        authenticator: Authenticator | None,
        access_log: AccessLog,
        instruments: Instruments,
    ) -> None:
        self._method = method
        self._request = request
        self._context = context
        self._authenticator = authenticator
        self._access_log = access_log
        self._instruments = instruments
        self._started = 0.0
        self._span: Span | None = None
        self._token: object = None

    async def __aenter__(self) -> None:
        self._started = time.perf_counter()
        instruments = self._instruments
        if instruments.metrics is not None:
            instruments.metrics.started.inc()
        if instruments.tracer is not None:
            self._span, self._token = instruments.tracer.start(self._context.invocation_metadata())
        try:
            _authorize(self._authenticator, self._method, self._context)
            check_decoded(self._request)
        except Exception as raised:
            # __aexit__ does not run when __aenter__ raises: end the call here.
            await self._fail(raised)
            raise

    async def __aexit__(self, kind: type[BaseException] | None, raised: BaseException | None, _: Any) -> bool:
        if raised is None:
            self._log(grpc.StatusCode.OK)
        elif isinstance(raised, asyncio.CancelledError):
            self._log(grpc.StatusCode.CANCELLED)
        elif isinstance(raised, GeneratorExit):
            # A stream closed while suspended is closed by whatever task finalizes it, whose
            # context never held the call's span: there is nothing there to restore.
            self._log(grpc.StatusCode.CANCELLED, restore_context=False)
        elif isinstance(raised, Exception):
            await self._fail(raised)
        return False

    async def _fail(self, raised: Exception) -> None:
        """Ends the call with the status of what was raised (an abort passes through as it is)."""
        if isinstance(raised, grpc.aio.AbortError):
            return
        error = _as_wallet_error(raised)
        self._log(status_code(error), error)
        await _abort(self._context, error)

    def _log(self, code: grpc.StatusCode, error: WalletError | None = None, *, restore_context: bool = True) -> None:
        duration_s = time.perf_counter() - self._started
        reason = error.reason if error else ""
        trace_ids = ""
        span = self._span
        if span is not None:
            self._span = None
            trace_ids = log_ids(span)
            MethodTracer.end(span, self._token if restore_context else None, code, reason)
        customer_id = getattr(self._request, "customer_id", "")
        self._access_log.record(
            self._method,
            code,
            duration_s,
            authenticated_caller(),
            reason,
            trace_ids,
            customer_id if isinstance(customer_id, str) else "",
        )
        if self._instruments.metrics is not None:
            self._instruments.metrics.ended(code, duration_s, reason)
