"""`wallet webhooks add|list|deliveries|remove|rotate-secret`: the HTTP endpoints that receive wallet events."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.table import Table

from wallet.v1 import wallet_pb2, webhooks_pb2, webhooks_pb2_grpc
from wallet_client.cli import display
from wallet_client.cli.context import Options
from wallet_client.connection import ClientSettings, open_channel
from wallet_client.rpc_errors import from_rpc_error

app = typer.Typer(
    name="webhooks",
    help="HTTP endpoints that receive every wallet event, signed (Standard Webhooks). See docs/webhooks.md.",
    no_args_is_help=True,
)

EndpointArg = Annotated[str, typer.Argument(metavar="ENDPOINT_ID", help="The endpoint's id (we_…).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (protobuf's JSON form) instead of a table.")]
_STATUS = {
    webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_ACTIVE: "active",
    webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_DISABLED: "disabled",
}


@contextlib.contextmanager
def _service(ctx: typer.Context) -> Iterator[webhooks_pb2_grpc.WebhookServiceStub]:
    opts: Options = ctx.obj
    channel = open_channel(ClientSettings(target=opts.target, timeout_s=opts.timeout_s))
    try:
        yield webhooks_pb2_grpc.WebhookServiceStub(channel)
    except grpc.RpcError as call:
        error = from_rpc_error(call)
        if error.reason == "WEBHOOK_ENDPOINT_NOT_FOUND":
            typer.echo(f"No webhook endpoint {error.metadata.get('endpoint_id', '')}", err=True)
            raise typer.Exit(display.EXIT_NOT_FOUND) from None
        failure = display.describe_error(error, display.Attempt(), opts.target)
        typer.echo(failure.message, err=True)
        raise typer.Exit(failure.exit_code) from None
    finally:
        channel.close()


def _types(names: list[str]) -> list[Any]:
    found = []
    known = set(wallet_pb2.EventType.keys()) - {"EVENT_TYPE_UNSPECIFIED"}
    for name in names:
        full = "EVENT_TYPE_" + name.upper().removeprefix("EVENT_TYPE_")
        if full not in known:
            raise typer.BadParameter(f"{name} is not an event type", param_hint="--events")
        found.append(wallet_pb2.EventType.Value(full))
    return found


def _when(moment: Timestamp) -> str:
    if not moment.seconds and not moment.nanos:
        return ""
    return datetime.fromtimestamp(moment.seconds + moment.nanos / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_json(message: Any) -> None:
    typer.echo(json.dumps(json_format.MessageToDict(message)))


@app.command()
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where to POST events (https://).")],
    events: Annotated[
        list[str],
        typer.Option("--events", help="Only this event type (e.g. balance_low); repeatable. Default: all."),
    ] = [],  # noqa: B006 - Typer reads the default, never mutates it
    description: Annotated[str, typer.Option(help="Free text for people.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Register an endpoint; prints its signing secret, which is shown this once."""
    request = webhooks_pb2.CreateWebhookEndpointRequest(url=url, event_types=_types(events), description=description)
    with _service(ctx) as service:
        created = service.CreateWebhookEndpoint(request, timeout=ctx.obj.timeout_s)
    if as_json:
        _print_json(created)
        return
    typer.echo(f"endpoint {created.endpoint.id} -> {created.endpoint.url}")
    typer.echo(f"signing secret (shown once, keep it): {created.signing_secret}")


@app.command("list")
def list_endpoints(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every endpoint, oldest first: its status, types and how far its deliveries got."""
    endpoints: list[webhooks_pb2.WebhookEndpoint] = []
    with _service(ctx) as service:
        token = ""
        while True:
            page = service.ListWebhookEndpoints(
                webhooks_pb2.ListWebhookEndpointsRequest(page_size=100, page_token=token), timeout=ctx.obj.timeout_s
            )
            endpoints.extend(page.endpoints)
            token = page.next_page_token
            if not token:
                break
    if as_json:
        for endpoint in endpoints:
            _print_json(endpoint)
        return
    table = Table("id", "url", "events", "status", "last delivered", "created")
    for e in endpoints:
        types = ", ".join(wallet_pb2.EventType.Name(t).removeprefix("EVENT_TYPE_").lower() for t in e.event_types)
        status = _STATUS.get(e.status, "?") + (f": {e.disabled_reason}" if e.disabled_reason else "")
        table.add_row(e.id, e.url, types or "all", status, e.last_delivered_cursor, _when(e.created_at))
    Console().print(table)


@app.command()
def deliveries(
    ctx: typer.Context,
    endpoint_id: EndpointArg,
    limit: Annotated[int, typer.Option(help="How many attempts, newest first.", min=1, max=500)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The endpoint's latest delivery attempts, newest first."""
    request = webhooks_pb2.ListWebhookDeliveriesRequest(endpoint_id=endpoint_id, page_size=limit)
    with _service(ctx) as service:
        page = service.ListWebhookDeliveries(request, timeout=ctx.obj.timeout_s)
    if as_json:
        for attempt in page.deliveries:
            _print_json(attempt)
        return
    table = Table("event", "attempt", "at", "HTTP", "ms", "result", "next attempt")
    for d in page.deliveries:
        result = "delivered" if d.delivered else d.error
        table.add_row(
            d.event_cursor,
            str(d.attempt),
            _when(d.attempted_at),
            str(d.http_status or ""),
            str(d.duration_ms),
            result,
            _when(d.next_attempt_at),
        )
    Console().print(table)


@app.command()
def remove(ctx: typer.Context, endpoint_id: EndpointArg) -> None:
    """Delete an endpoint: nothing more is sent to it."""
    with _service(ctx) as service:
        service.DeleteWebhookEndpoint(
            webhooks_pb2.DeleteWebhookEndpointRequest(id=endpoint_id), timeout=ctx.obj.timeout_s
        )
    typer.echo(f"removed {endpoint_id}")


@app.command("rotate-secret")
def rotate_secret(ctx: typer.Context, endpoint_id: EndpointArg) -> None:
    """A new signing secret; deliveries carry a signature with the old one too for 24 hours."""
    with _service(ctx) as service:
        rotated = service.RotateWebhookSecret(
            webhooks_pb2.RotateWebhookSecretRequest(id=endpoint_id), timeout=ctx.obj.timeout_s
        )
    typer.echo(f"new signing secret (shown once, keep it): {rotated.signing_secret}")
    typer.echo(f"the previous secret signs too until {_when(rotated.previous_secret_expires_at)} UTC")
