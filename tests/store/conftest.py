from tests.store.support import db, db_url, pg_schemas

__all__ = ["db", "db_url", "pg_schemas"]
