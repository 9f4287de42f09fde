"""WebhookService at the edge: requests in (checked, BadRequest naming the field), endpoints and attempts out."""

from __future__ import annotations

import re

from server.api.events_io import EVENT_TYPE_TO_PROTO, event_types
from server.api.parse import check_text
from server.api.render import timestamp
from server.domain.cursors import cursor_of
from server.domain.errors import FieldViolation, InvalidArgument, WebhookEndpointNotFound
from server.domain.limits import WEBHOOK_DESCRIPTION_LENGTH_MAX, WEBHOOK_URL_LENGTH_MAX
from server.domain.webhooks import ACTIVE, DeliveryAttempt, NewEndpoint, WebhookEndpoint
from wallet.v1 import webhooks_pb2

_ENDPOINT_ID = re.compile(r"we_[0-9a-f]{26}")
_DELIVERY_TOKEN = re.compile(r"d_([0-9]{1,19})_([0-9]{1,10})")
ENDPOINTS_PAGE_DEFAULT, ENDPOINTS_PAGE_MAX = 50, 100
DELIVERIES_PAGE_DEFAULT, DELIVERIES_PAGE_MAX = 100, 500


def new_endpoint(request: webhooks_pb2.CreateWebhookEndpointRequest) -> NewEndpoint:
    violations: list[FieldViolation] = []
    if not request.url:
        violations.append(FieldViolation("url", "is required"))
    check_text(request.url, "url", WEBHOOK_URL_LENGTH_MAX, violations)
    check_text(request.description, "description", WEBHOOK_DESCRIPTION_LENGTH_MAX, violations)
    types = event_types(request.event_types, violations)
    if violations:
        raise InvalidArgument(violations)
    return NewEndpoint(request.url, frozenset(types), request.description)


def endpoint_id(value: str, field: str = "id") -> str:
    """A well-formed id; a malformed one names no endpoint (NOT_FOUND), an empty one is INVALID_ARGUMENT."""
    if not value:
        raise InvalidArgument([FieldViolation(field, "is required")])
    if not _ENDPOINT_ID.fullmatch(value):
        raise WebhookEndpointNotFound(endpoint_id=value)
    return value


def page_size(value: int, default: int, maximum: int) -> int:
    if value < 0 or value > maximum:
        raise InvalidArgument([FieldViolation("page_size", f"must be between 0 and {maximum}")])
    return value or default


def endpoints_page(request: webhooks_pb2.ListWebhookEndpointsRequest) -> tuple[str, int]:
    size = page_size(request.page_size, ENDPOINTS_PAGE_DEFAULT, ENDPOINTS_PAGE_MAX)
    if request.page_token and not _ENDPOINT_ID.fullmatch(request.page_token):
        raise InvalidArgument([FieldViolation("page_token", "is not a token this service returned")])
    return request.page_token, size


def deliveries_page(request: webhooks_pb2.ListWebhookDeliveriesRequest) -> tuple[str, tuple[int, int] | None, int]:
    endpoint = endpoint_id(request.endpoint_id, "endpoint_id")
    size = page_size(request.page_size, DELIVERIES_PAGE_DEFAULT, DELIVERIES_PAGE_MAX)
    before = None
    if request.page_token:
        found = _DELIVERY_TOKEN.fullmatch(request.page_token)
        if found is None:
            raise InvalidArgument([FieldViolation("page_token", "is not a token this service returned")])
        before = (int(found.group(1)), int(found.group(2)))
    return endpoint, before, size


def delivery_token(attempt: DeliveryAttempt) -> str:
    return f"d_{attempt.event_position}_{attempt.attempt}"


def endpoint_to_proto(endpoint: WebhookEndpoint) -> webhooks_pb2.WebhookEndpoint:
    status = (
        webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_ACTIVE
        if endpoint.status == ACTIVE
        else webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_DISABLED
    )
    delivered = endpoint.last_delivered_position > endpoint.start_position
    return webhooks_pb2.WebhookEndpoint(
        id=endpoint.id,
        url=endpoint.url,
        event_types=sorted(EVENT_TYPE_TO_PROTO[t] for t in endpoint.event_types),
        description=endpoint.description,
        status=status,
        created_at=timestamp(endpoint.created_at),
        disabled_reason=endpoint.disabled_reason,
        last_delivered_cursor=cursor_of(endpoint.last_delivered_position) if delivered else "",
    )


def delivery_to_proto(attempt: DeliveryAttempt) -> webhooks_pb2.WebhookDelivery:
    return webhooks_pb2.WebhookDelivery(
        event_cursor=cursor_of(attempt.event_position),
        attempt=attempt.attempt,
        http_status=attempt.http_status,
        error=attempt.error,
        attempted_at=timestamp(attempt.attempted_at),
        duration_ms=attempt.duration_ms,
        next_attempt_at=None if attempt.next_attempt_at is None else timestamp(attempt.next_attempt_at),
        delivered=attempt.delivered,
    )
