"""PostgreSQL adapter: Starbase's role ports on psycopg 3, its migrations (yoyo) and var value encryption."""

from starform_adapters.postgres.crypto import EncryptionKeyError, Sealed, VarCipher, generate_key
from starform_adapters.postgres.migrations import available_migrations, migrate
from starform_adapters.postgres.pool import open_pool
from starform_adapters.postgres.store import PostgresStore

__all__ = [
    "EncryptionKeyError",
    "PostgresStore",
    "Sealed",
    "VarCipher",
    "available_migrations",
    "generate_key",
    "migrate",
    "open_pool",
]
