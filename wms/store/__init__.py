"""Storage adapter: SQLModel tables on SQLite (WAL) by default, PostgreSQL when WMS_DATABASE_URL says so."""

from wms.store.db import connect, database_url

__all__ = ["connect", "database_url"]
