"""What the console streams: a filtered history as CSV or JSONL, and a customer's events as server-sent events.

Downloads go through the service's history stream entry by entry, so memory
stays constant however long the history. The live stream is fed by
WatchEvents from the moment the page connects: it first says `ready` once
the watch is live (the page then refreshes once, catching anything that
committed while it loaded),
then `change` per event; a comment every KEEPALIVE_S notices a closed page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from wallet_client import AsyncWalletClient, WalletError, WalletEvent
from wallet_client.cli import export
from wallet_console.history_filters import HistoryQuery, QueryError
from wallet_console.state import Console, Visit, visit

KEEPALIVE_S = 15.0
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


async def download(request: Request) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console)
    if not isinstance(seen, Visit):
        return seen
    customer_id, fmt = request.path_params["customer_id"], request.path_params["fmt"]
    if fmt not in FORMATS:
        return Response("Download as history.csv or history.jsonl\n", status_code=404, media_type="text/plain")
    try:
        filters = HistoryQuery.of(request.query_params).filters()
    except QueryError as error:
        return Response(f"{error}\n", status_code=422, media_type="text/plain")
    client = seen.client()
    entries = client.iter_entries(customer_id, **filters)
    try:
        # The first entry is read before answering, so that a refusal is an error status, not a cut file.
        first = await anext(entries, None)
    except WalletError as error:
        return Response(f"{error.message}\n", status_code=502, media_type="text/plain")

    async def lines() -> AsyncIterator[str]:
        yield export.header(fmt)
        if first is not None:
            yield export.line(fmt, first)
            async for entry in entries:
                yield export.line(fmt, entry)

    filename = f"history-{quote(customer_id, safe='')}.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    return seen.finish(StreamingResponse(lines(), media_type=FORMATS[fmt], headers=headers))


def _sse(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


# What the feeder hands the page's stream: "ready" once the watch is live, events, then None when it ends.
Item = WalletEvent | str | None


async def _feed(client: AsyncWalletClient, customer_id: str, queue: asyncio.Queue[Item]) -> None:
    try:
        async for event in client.watch_events(customer_id, on_live=lambda: queue.put_nowait("ready")):
            await queue.put(event)
    except WalletError:
        pass
    await queue.put(None)


async def live(request: Request) -> Response:
    console: Console = request.app.state.console
    seen = await visit(request, console)
    if not isinstance(seen, Visit):
        return seen
    customer_id = request.path_params["customer_id"]
    client = seen.client()

    async def events() -> AsyncIterator[str]:
        queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=1000)
        feeder = asyncio.create_task(_feed(client, customer_id, queue))
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if event is None:
                    yield _sse("ended", {})
                    return
                if isinstance(event, str):
                    # The watch is live: the page refreshes once, catching what committed while it loaded.
                    yield _sse(event, {})
                    continue
                yield _sse("change", {"cursor": event.cursor, "type": event.event_type.value})
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return seen.finish(StreamingResponse(events(), media_type="text/event-stream", headers=headers))
