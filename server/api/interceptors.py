"""What happens around every RPC: authorization, undecodable bodies, the error mapping, the access log.

Before a handler runs, the caller is authorized (when auth is on) and a body
that did not parse is refused with INVALID_ARGUMENT. Handlers raise
`WalletError`s; this is the one place that turns them (and anything
unexpected) into a rich gRPC status through `server.api.status`, so no stack
trace or SQL ever reaches a caller. Each call ends with one access-log line.

The same scope counts the call in the grpc_server_* metrics and runs it in
its server span when those are on (docs/observability.md): one wrapper per
call, not one interceptor per concern, because each layer of grpc.aio
interception costs a call more than the bookkeeping itself.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status
from opentelemetry.trace import Span, Tracer

from server.api.access_log import AccessLog
from server.api.auth import Authenticator, authenticated_caller, record_caller
from server.api.status import status_code, to_status
from server.api.undecodable import check_decoded, tolerant
from server.domain.errors import InternalError, WalletError
from server.observability.rpc_metrics import SERVER_STREAM, UNARY, MethodMetrics, RpcMetrics
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
        record_caller(caller)


class ErrorAndLogInterceptor(grpc.aio.ServerInterceptor):
    """Authorizes each call (when auth is on), maps WalletError to statuses, and logs
    method, code and duration of each call."""

    def __init__(
        self,
        access_log: AccessLog,
        authenticator: Authenticator | None = None,
        *,
        metrics: RpcMetrics | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._access_log = access_log
        self._authenticator = authenticator
        self._metrics = metrics
        self._tracer = tracer
        # Wrapped handlers, built once per method: building one costs more than a call's bookkeeping.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def _instruments(self, method: str, grpc_type: str) -> _Instruments:
        return _Instruments(
            self._metrics.for_method(method, grpc_type) if self._metrics is not None else None,
            MethodTracer(self._tracer, method) if self._tracer is not None else None,
        )

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(
                    method, handler.unary_unary, self._authenticator, self._access_log, self._instruments(method, UNARY)
                ),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        # Only handlers that yield their responses can be wrapped as a generator;
        # one that writes through context.write (health's Watch) passes untouched.
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(
                    method,
                    handler.unary_stream,
                    self._authenticator,
                    self._access_log,
                    self._instruments(method, SERVER_STREAM),
                ),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler


class _Instruments:
    """One method's metrics and tracer, each None when that part of observability is off."""

    __slots__ = ("metrics", "tracer")

    def __init__(self, metrics: MethodMetrics | None, tracer: MethodTracer | None) -> None:
        self.metrics = metrics
        self.tracer = tracer


class _CallScope:
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
        instruments: _Instruments,
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
        self._access_log.record(self._method, code, duration_s, authenticated_caller(), reason, trace_ids)
        if self._instruments.metrics is not None:
            self._instruments.metrics.ended(code, duration_s, reason)


def _wrap_unary(
    method: str,
    behaviour: Any,
    authenticator: Authenticator | None,
    access_log: AccessLog,
    instruments: _Instruments,
) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        async with _CallScope(method, request, context, authenticator, access_log, instruments):
            return await behaviour(request, context)

    return wrapped


def _wrap_stream(
    method: str,
    behaviour: Any,
    authenticator: Authenticator | None,
    access_log: AccessLog,
    instruments: _Instruments,
) -> Any:
    sent = instruments.metrics.msg_sent if instruments.metrics is not None else None

    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async with _CallScope(method, request, context, authenticator, access_log, instruments):
            async for response in behaviour(request, context):
                if sent is not None:
                    sent.inc()
                yield response

    return wrapped
