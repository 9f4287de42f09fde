"""The one `MetaData` every table of the schema is declared on (see `server.store.schema`)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
