"""Event sinks fed from the outbox: signed webhooks (`webhook_dispatcher`) and the NATS JetStream relay.

Each reads the event stream after its own position kept in PostgreSQL and
moves that position only once the sink has acknowledged; one process at a
time leads each sink (`leader`).
"""
