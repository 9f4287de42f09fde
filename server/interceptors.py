"""Cross-cutting handling of every RPC: the error mapping and one log line per call.

Handlers raise `WalletError`s; this is the one place that turns them (and
anything unexpected) into a rich gRPC status, so no stack trace or SQL ever
reaches a caller.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status

from server.access_log import AccessLog
from server.auth import Authenticator
from server.errors import FieldViolation, InternalError, InvalidArgument, WalletError, to_status

logger = logging.getLogger("wallet.rpc")

# Identity of the authenticated caller of the current RPC ("" when auth is off).
current_caller: contextvars.ContextVar[str] = contextvars.ContextVar("current_caller", default="")


def _as_wallet_error(error: BaseException) -> WalletError:
    if isinstance(error, WalletError):
        return error
    logger.error("unexpected error in handler", exc_info=error)
    return InternalError("Internal error")


async def _abort(context: grpc.aio.ServicerContext, error: WalletError) -> None:
    status = rpc_status.to_status(to_status(error))
    await context.abort(status.code, status.details, status.trailing_metadata)


class _Undecodable:
    """Stands in for a request body that did not parse, so that the handler wrapper can
    refuse it with INVALID_ARGUMENT instead of gRPC answering UNKNOWN with a traceback."""


_UNDECODABLE = _Undecodable()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return _UNDECODABLE

    return deserialize


def _check_decoded(request: Any) -> None:
    if request is _UNDECODABLE:
        raise InvalidArgument([FieldViolation("request", "the body is not a valid message of the request type")])


def _certificate_common_names(context: grpc.aio.ServicerContext) -> list[str]:
    names = (context.auth_context() or {}).get("x509_common_name", [])
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _authorize(authenticator: Authenticator | None, method: str, context: grpc.aio.ServicerContext) -> None:
    """Sets `current_caller`, or raises Unauthenticated / PermissionDenied."""
    if authenticator is None:
        return
    caller = authenticator.authorize(
        method, tuple(context.invocation_metadata() or ()), _certificate_common_names(context)
    )
    if caller is not None:
        current_caller.set(caller)


class ErrorAndLogInterceptor(grpc.aio.ServerInterceptor):
    """Authorizes each call (when auth is on), maps WalletError to statuses, and logs
    method, code and duration of each call."""

    def __init__(self, access_log: AccessLog, authenticator: Authenticator | None = None) -> None:
        self._access_log = access_log
        self._authenticator = authenticator
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

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(method, handler.unary_unary, self._authenticator, self._access_log),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        # Only handlers that yield their responses can be wrapped as a generator;
        # one that writes through context.write (health's Watch) passes untouched.
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(method, handler.unary_stream, self._authenticator, self._access_log),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler


def _log_call(
    access_log: AccessLog, method: str, code: grpc.StatusCode, started: float, error: WalletError | None = None
) -> None:
    access_log.record(method, code, time.perf_counter() - started, current_caller.get(), error.reason if error else "")


async def _fail(
    context: grpc.aio.ServicerContext, raised: Exception, access_log: AccessLog, method: str, started: float
) -> None:
    """Ends the call with the status of what the handler raised (an abort passes through as it is)."""
    if isinstance(raised, grpc.aio.AbortError):
        raise raised
    error = _as_wallet_error(raised)
    _log_call(access_log, method, error.code, started, error)
    await _abort(context, error)


def _wrap_unary(method: str, behaviour: Any, authenticator: Authenticator | None, access_log: AccessLog) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        try:
            _authorize(authenticator, method, context)
            _check_decoded(request)
            response = await behaviour(request, context)
        except asyncio.CancelledError:
            _log_call(access_log, method, grpc.StatusCode.CANCELLED, started)
            raise
        except Exception as raised:
            await _fail(context, raised, access_log, method, started)
        _log_call(access_log, method, grpc.StatusCode.OK, started)
        return response

    return wrapped


def _wrap_stream(method: str, behaviour: Any, authenticator: Authenticator | None, access_log: AccessLog) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = time.perf_counter()
        try:
            _authorize(authenticator, method, context)
            _check_decoded(request)
            async for response in behaviour(request, context):
                yield response
        except (asyncio.CancelledError, GeneratorExit):
            _log_call(access_log, method, grpc.StatusCode.CANCELLED, started)
            raise
        except Exception as raised:
            await _fail(context, raised, access_log, method, started)
        _log_call(access_log, method, grpc.StatusCode.OK, started)

    return wrapped
