"""WebhookService over gRPC: proto in (`webhooks_io`), one `WebhookAdmin` use case, proto out."""

from __future__ import annotations

import grpc

from server.api import webhooks_io
from server.api.render import timestamp
from server.ledger.webhooks import WebhookAdmin
from wallet.v1 import webhooks_pb2, webhooks_pb2_grpc


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, admin: WebhookAdmin) -> None:
        self._admin = admin

    async def CreateWebhookEndpoint(
        self, request: webhooks_pb2.CreateWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.CreateWebhookEndpointResponse:
        endpoint, secret = await self._admin.create(webhooks_io.new_endpoint(request))
        return webhooks_pb2.CreateWebhookEndpointResponse(
            endpoint=webhooks_io.endpoint_to_proto(endpoint), signing_secret=secret
        )

    async def GetWebhookEndpoint(
        self, request: webhooks_pb2.GetWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.GetWebhookEndpointResponse:
        endpoint = await self._admin.get(webhooks_io.endpoint_id(request.id))
        return webhooks_pb2.GetWebhookEndpointResponse(endpoint=webhooks_io.endpoint_to_proto(endpoint))

    async def ListWebhookEndpoints(
        self, request: webhooks_pb2.ListWebhookEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.ListWebhookEndpointsResponse:
        after, size = webhooks_io.endpoints_page(request)
        endpoints, more = await self._admin.list_page(after, size)
        return webhooks_pb2.ListWebhookEndpointsResponse(
            endpoints=[webhooks_io.endpoint_to_proto(e) for e in endpoints],
            next_page_token=endpoints[-1].id if more and endpoints else "",
        )

    async def DeleteWebhookEndpoint(
        self, request: webhooks_pb2.DeleteWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.DeleteWebhookEndpointResponse:
        await self._admin.delete(webhooks_io.endpoint_id(request.id))
        return webhooks_pb2.DeleteWebhookEndpointResponse()

    async def RotateWebhookSecret(
        self, request: webhooks_pb2.RotateWebhookSecretRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.RotateWebhookSecretResponse:
        secret, until = await self._admin.rotate(webhooks_io.endpoint_id(request.id))
        return webhooks_pb2.RotateWebhookSecretResponse(
            signing_secret=secret, previous_secret_expires_at=timestamp(until)
        )

    async def ListWebhookDeliveries(
        self, request: webhooks_pb2.ListWebhookDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.ListWebhookDeliveriesResponse:
        endpoint, before, size = webhooks_io.deliveries_page(request)
        attempts, more = await self._admin.deliveries(endpoint, before, size)
        return webhooks_pb2.ListWebhookDeliveriesResponse(
            deliveries=[webhooks_io.delivery_to_proto(a) for a in attempts],
            next_page_token=webhooks_io.delivery_token(attempts[-1]) if more and attempts else "",
        )
