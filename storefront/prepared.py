"""The statements every cart change runs, compiled once per database kind and run straight on
the DB-API cursor of the session's connection, inside the session's transaction.

A cached Core statement executed through SQLAlchemy still builds an execution context, merges
and processes its parameters and sets up a result each time: about 2 to 3 % of a cart add per
statement, five statements an add, more than the database's own work (py-spy, issue 10). Here
that set-up is done once: the SQL text, the order of the parameters and the type processors
(the very ones SQLAlchemy would apply, from the compiled statement) are kept, and each
execution only processes the values and calls the driver. Errors still go through SQLAlchemy's
handling: they arrive wrapped as its exceptions, and a connection the server dropped is
invalidated in the pool (``errorpages`` answers 503 for it, as for any statement).

Only for plain statements whose every value is given or fixed in the statement: a column
default computed in Python, or a statement SQLAlchemy would post-process, is refused when
first compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement

from storefront.extensions import db

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # (name, processor, fixed value or _GIVEN) per parameter, in the statement's order.
    binds: tuple[tuple[str, Processor, Any], ...]
    positional: bool
    results: tuple[Processor, ...]

    def arguments(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        processed = []
        for name, process, fixed in self.binds:
            value = values[name] if fixed is _GIVEN else fixed
            processed.append(value if process is None or value is None else process(value))
        if self.positional:
            return processed
        return {name: value for (name, _, _), value in zip(self.binds, processed, strict=True)}

    def row(self, raw: Sequence[Any]) -> tuple:
        return tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(self.results, raw, strict=True)
        )


_GIVEN = object()


class Prepared:
    """One statement; ``params`` name every bound parameter (the columns of an INSERT or an
    UPDATE's SET are those named, as with Core)."""

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._plans: dict[tuple, _Plan] = {}

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        plan = self._plans.get((dialect.name, keys))
        if plan is None:
            plan = self._plans[(dialect.name, keys)] = _compile(self.statement, dialect, keys)
        return plan

    def _run(self, params: Mapping[str, Any], many: Sequence[Mapping[str, Any]] = ()):
        session = db.session()
        # What the ORM has pending reaches the database first, as autoflush would do for a
        # statement run through the session (a guest cart a registration adopted, in the same
        # transaction).
        session.flush()
        connection: Connection = session.connection()
        plan = self._plan(connection.dialect, tuple(params))
        cursor = connection.connection.driver_connection.cursor()
        arguments: Any = None
        # The engine's statement events still fire (the shop's database time per request in
        # metrics.py, an operator's tracing): listeners see the statement as the driver gets it.
        dispatch = connection.dispatch
        try:
            if many:
                arguments = [plan.arguments(values) for values in many]
                dispatch.before_cursor_execute(connection, cursor, plan.sql, arguments, None, True)
                cursor.executemany(plan.sql, arguments)
            else:
                arguments = plan.arguments(params)
                dispatch.before_cursor_execute(connection, cursor, plan.sql, arguments, None, False)
                cursor.execute(plan.sql, arguments)
        except connection.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            # SQLAlchemy's own handling: wrapped, and a dropped connection invalidated.
            connection._handle_dbapi_exception(exc, plan.sql, arguments, None, None)
        dispatch.after_cursor_execute(connection, cursor, plan.sql, arguments, None, bool(many))
        return plan, cursor

    def execute(self, params: Mapping[str, Any]) -> None:
        _, cursor = self._run(params)
        cursor.close()

    def execute_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Several rows, each naming the same parameters as the first."""
        _, cursor = self._run(rows[0], rows)
        cursor.close()

    def first(self, params: Mapping[str, Any]) -> tuple | None:
        plan, cursor = self._run(params)
        try:
            raw = cursor.fetchone()
        finally:
            cursor.close()
        return None if raw is None else plan.row(raw)

    def all(self, params: Mapping[str, Any]) -> list[tuple]:
        plan, cursor = self._run(params)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not any(plan.results):
            return [tuple(raw) for raw in rows]
        return [plan.row(raw) for raw in rows]


def _compile(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError(f"a column default to compute in Python, not prepared: {compiled}")
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    names = compiled.positiontup if dialect.positional else list(by_name)
    binds = []
    for name in names:
        bind = by_name[name]
        if bind.callable is not None or bind.expanding:
            raise ValueError(f"{name}: a computed or expanding parameter is not prepared")
        fixed = _GIVEN if bind.required or name in keys else bind.value
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append((name, processor, fixed))
    selected = getattr(statement, "selected_columns", ())
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected)
    return _Plan(compiled.string, tuple(binds), dialect.positional, results)
