"""PostgreSQL: the schema, its migrations, the pool, and the SQL of every use case.

Only this package (with the verifier) executes SQL. Its functions take an open
psycopg connection whose transaction the caller owns, and speak in the domain's
values (`server.domain.model`), never in rows.
"""
