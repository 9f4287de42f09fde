"""`make ha-status`: one JSON object per line for each database node, then one for the service.

Node lines: name, role (`primary`, `standby`, or `down` when its Patroni does
not answer), synchronous (a standby that acknowledged commits wait for),
host, port, data_dir, pid (the postmaster's), lag_bytes. The service line:
name `service`, addr, pid, serving (its gRPC health).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ha.cluster import HaCluster

SERVICE_FILE = "service.json"


def node_lines(cluster: HaCluster) -> list[dict[str, Any]]:
    members = {str(m.get("name")): m for m in cluster.members()}
    lines = []
    for node in cluster.nodes:
        member = members.get(node.name, {})
        role = {"leader": "primary", "primary": "primary", "sync_standby": "standby", "replica": "standby"}.get(
            str(member.get("role")), "down"
        )
        if role != "down" and member.get("state") not in ("running", "streaming"):
            role = "down" if member.get("state") in ("stopped", "crashed", "start failed") else role
        lag = member.get("lag", 0)
        lines.append(
            {
                "name": node.name,
                "role": role,
                "synchronous": member.get("role") == "sync_standby",
                "host": "127.0.0.1",
                "port": node.pg_port,
                "data_dir": str(cluster.data_dir(node.name)),
                "pid": cluster.postmaster_pid(node.name),
                "lag_bytes": lag if isinstance(lag, int) else None,
            }
        )
    return lines


def serving(addr: str) -> bool:
    with grpc.insecure_channel(addr) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


def service_line(base: Path) -> dict[str, Any]:
    try:
        service: dict[str, Any] = json.loads((base / SERVICE_FILE).read_text())
    except (OSError, ValueError):
        return {"name": "service", "addr": None, "pid": None, "serving": False}
    return {"name": "service", "addr": service["addr"], "pid": service["pid"], "serving": serving(service["addr"])}


def print_status(base: Path) -> int:
    """Prints the lines; exits 0 when there is a primary and a synchronous standby, 1 otherwise."""
    if not (base / "cluster.json").exists():
        print(json.dumps({"error": f"no cluster under {base}: start one with `make run-ha`"}))
        return 1
    cluster = HaCluster(base)
    lines = node_lines(cluster)
    for line in [*lines, service_line(base)]:
        print(json.dumps(line), flush=True)
    roles = sorted((line["role"], line["synchronous"]) for line in lines)
    return 0 if roles == [("primary", False), ("standby", True)] else 1
