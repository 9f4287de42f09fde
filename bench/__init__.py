"""Benchmark harness of the wallet service: `python -m bench --mode quick|full|profile`.

Everything runs on this machine: a throwaway PostgreSQL, the server as its own
process, load generator processes on 127.0.0.1, and the baselines (pgbench,
a bare gRPC echo service, a psycopg server-side cursor) against the same
database in the same run. See docs/performance.md.
"""
