"""What happens around every RPC: one wrapper per method, each call run inside its `CallScope`.

The scope (`server.api.call_scope`) authorizes the caller, refuses bodies
that did not parse, maps every error to its status once, and ends each call
with one access-log line, its grpc_server_* counts and its server span when
those are on (docs/observability.md). One wrapper per call, not one
interceptor per concern, because each layer of grpc.aio interception costs a
call more than the bookkeeping itself; the wrapped handlers are built once
per method.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry.trace import Tracer

from server.api.access_log import AccessLog
from server.api.auth import Authenticator
from server.api.call_scope import CallScope, Instruments
from server.api.undecodable import tolerant
from server.observability.rpc_metrics import SERVER_STREAM, UNARY, RpcMetrics
from server.observability.tracing import MethodTracer


class CallScopeInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each method's handler once so that every call runs inside its `CallScope` (see the module)."""

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

    def _instruments(self, method: str, grpc_type: str) -> Instruments:
        return Instruments(
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


def _wrap_unary(
    method: str,
    behaviour: Any,
    authenticator: Authenticator | None,
    access_log: AccessLog,
    instruments: Instruments,
) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        async with CallScope(method, request, context, authenticator, access_log, instruments):
            return await behaviour(request, context)

    return wrapped


def _wrap_stream(
    method: str,
    behaviour: Any,
    authenticator: Authenticator | None,
    access_log: AccessLog,
    instruments: Instruments,
) -> Any:
    sent = instruments.metrics.msg_sent if instruments.metrics is not None else None

    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async with CallScope(method, request, context, authenticator, access_log, instruments):
            async for response in behaviour(request, context):
                if sent is not None:
                    sent.inc()
                yield response

    return wrapped
