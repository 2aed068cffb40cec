"""Read records by column name: each query's columns are named as the fields they fill.

A repository's cursor yields plain tuples; these helpers run one query on a second cursor of the
same connection (so inside the same transaction and snapshot) with a psycopg row factory, e.g.
``class_row(ProjectRow)`` when the selected names are the row's fields, or ``kwargs_row(f)``
when ``f`` converts a column first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import RowFactory

__all__ = ["Cursor", "Query", "fetch_all", "fetch_one"]

T = TypeVar("T")
Cursor = psycopg.Cursor[Any]
Query = str | sql.Composed
Params = Sequence[Any] | Mapping[str, Any]


def _encoded(query: Query) -> bytes | sql.Composed:
    return query.encode() if isinstance(query, str) else query


def fetch_all(cur: Cursor, query: Query, params: Params, row: RowFactory[T]) -> list[T]:
    """Every record of ``query`` as ``row`` makes it."""
    with cur.connection.cursor(row_factory=row) as named:
        return named.execute(_encoded(query), params).fetchall()


def fetch_one(cur: Cursor, query: Query, params: Params, row: RowFactory[T]) -> T | None:
    """The first record of ``query`` as ``row`` makes it (``None``: no record)."""
    with cur.connection.cursor(row_factory=row) as named:
        return named.execute(_encoded(query), params).fetchone()
