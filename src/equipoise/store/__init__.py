"""The trial server's storage: schema, migrations, services (enrolment, randomization) and the audit chain.

Business rules live here, below the web layer, so the CLI, the API and the tests share them.
"""

from equipoise.store.db import Database, default_database_url

__all__ = ["Database", "default_database_url"]
