"""The statements every cart change runs, compiled once per database kind and run straight on
the DB-API cursor of the session's connection, inside the session's transaction, or of the
connection a block names (``on``: a cart change's, outside the session).

A cached Core statement executed through SQLAlchemy still builds an execution context, merges
and processes its parameters and sets up a result each time: about 2 to 3 % of a cart add per
statement, five statements an add, more than the database's own work (py-spy, issue 10). Here
that set-up is done once: the SQL text, the order of the parameters and the type processors
(the very ones SQLAlchemy would apply, from the compiled statement) are kept, and each
execution only processes the values and calls the driver. Errors still go through SQLAlchemy's
handling: they arrive wrapped as its exceptions, and a connection the server dropped is
invalidated in the pool (``errorpages`` answers 503 for it, as for any statement). The
engine's statement events fire for the shop's own listeners; while anyone else listens (an
operator's tracing wants SQLAlchemy's execution context), statements go through Core.

Only for plain statements whose every value is given or fixed in the statement: a column
default computed in Python, or a statement SQLAlchemy would post-process, is refused when
first compiled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql import ClauseElement, Insert

from storefront.extensions import db

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # (name, processor, fixed value or _GIVEN) per parameter, in the statement's order.
    binds: tuple[tuple[str, Processor, Any], ...]
    positional: bool
    results: tuple[Processor, ...]
    # Where an INSERT's one VALUES tuple starts (rows can be repeated), else None.
    values_at: int | None = None
    # (index, processor) of the result columns that have one.
    processed: tuple[tuple[int, Processor], ...] = ()

    def arguments(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        processed = []
        for name, process, fixed in self.binds:
            value = values[name] if fixed is _GIVEN else fixed
            processed.append(value if process is None or value is None else process(value))
        if self.positional:
            return processed
        return {name: value for (name, _, _), value in zip(self.binds, processed, strict=True)}

    def row(self, raw: Sequence[Any]) -> tuple:
        # Only the columns with a processor are visited: a 1,000-line cart reads a row per
        # product, and most of their columns need none.
        values = list(raw)
        for index, process in self.processed:
            if values[index] is not None:
                values[index] = process(values[index])
        return tuple(values)


_GIVEN = object()


class Prepared:
    """One statement; ``params`` name every bound parameter (the columns of an INSERT or an
    UPDATE's SET are those named, as with Core)."""

    def __init__(self, statement: ClauseElement):
        if isinstance(statement, Insert):
            # Nothing is read back (no RETURNING of the new key on PostgreSQL), and many rows
            # go as one executemany.
            statement = statement.inline()
        self.statement = statement
        self._plans: dict[tuple, _Plan] = {}

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        # A race between greenlets only compiles the same plan twice.
        plan = self._plans.get((dialect.name, dialect.driver, keys))
        if plan is None:
            plan = _compile(self.statement, dialect, keys)
            self._plans[(dialect.name, dialect.driver, keys)] = plan
        return plan

    def _run(self, params: Mapping[str, Any], many: Sequence[Mapping[str, Any]], fetch):
        direct = _DIRECT.get()
        if direct is not None:
            connection, pending = direct.connection, direct.info.get(_PENDING)
        else:
            session = db.session()
            # What the ORM has pending reaches the database first, as autoflush would do for a
            # statement run through the session (a guest cart a registration adopted, in the
            # same transaction).
            session.flush()
            connection = _connection_of(session)
            pending = session.info.get(_PENDING)
        if _watched(connection):
            # Someone else listens to statements (an operator's tracing, a test counting them):
            # they get SQLAlchemy's own execution, with its context.
            if pending is not None and pending.guarded:
                raise NotTogether("statements are watched: each runs through SQLAlchemy")
            if pending:
                _send(connection, pending)
            result = connection.execute(self.statement, list(many) or params)
            try:
                return fetch(None, result)
            finally:
                result.close()
        plan = self._plan(connection.dialect, tuple(params))
        rows = _arguments(connection, plan, many or (params,))
        if pending is not None and connection.dialect.paramstyle == "pyformat":
            if fetch is _nothing and (
                not many or (plan.values_at is not None and len(rows) <= TOGETHER_ROWS)
            ):
                pending.append((plan, rows))
                return None
            if pending.guarded:
                raise NotTogether("a read, or too many rows, inside a guarded block")
            if pending:  # a read sees every write before it
                _send(connection, pending)
        elif pending is not None and pending.guarded:
            raise NotTogether(f"{connection.dialect.name} cannot send writes together")
        if many:
            return _execute(connection, plan.sql, rows, True, fetch, plan)
        return _execute(connection, plan.sql, rows[0], False, fetch, plan)

    def execute(self, params: Mapping[str, Any]) -> None:
        self._run(params, (), _nothing)

    def execute_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Several rows, each naming the same parameters as the first."""
        self._run(rows[0], rows, _nothing)

    def first(self, params: Mapping[str, Any]) -> tuple | None:
        return self._run(params, (), _first)

    def all(self, params: Mapping[str, Any]) -> list[tuple]:
        return self._run(params, (), _all)


def _arguments(connection: Connection, plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> list:
    try:
        return [plan.arguments(values) for values in rows]
    except Exception as exc:  # a value no processor takes: SQLAlchemy's StatementError
        connection._handle_dbapi_exception(exc, plan.sql, None, None, None)


def _execute(connection: Connection, sql: str, arguments, many: bool, fetch, plan: _Plan | None):
    """``sql`` on the driver's cursor (``arguments``: one row's, or every row's if ``many``)."""
    dispatch = connection.dispatch
    cursor = None
    try:
        cursor = connection.connection.driver_connection.cursor()
        # The shop's own listeners (database time per request, metrics.py) take no context.
        dispatch.before_cursor_execute(connection, cursor, sql, arguments, None, many)
        if many:
            cursor.executemany(sql, arguments)
        else:
            cursor.execute(sql, arguments)
        dispatch.after_cursor_execute(connection, cursor, sql, arguments, None, many)
        return fetch(plan, cursor)
    except BaseException as exc:
        # SQLAlchemy's own handling: wrapped (a driver's error, or a value no processor
        # takes), a connection the server dropped invalidated, and one left mid-statement
        # by an exit (a greenlet killed at shutdown) invalidated too, then re-raised.
        connection._handle_dbapi_exception(exc, sql, arguments, None, None)
    finally:
        if cursor is not None:
            cursor.close()


_PENDING = "storefront.prepared.pending"
# More rows than this (a cart of thousands of lines cleared: an event each) go as an
# executemany of their own, after what is pending: PostgreSQL takes at most 65,535 parameters a
# statement, and each row count is a statement text of its own to keep.
TOGETHER_ROWS = 32


class NotTogether(Exception):
    """A statement inside ``together(guarded=True)`` that cannot join the one statement (a
    read, more than TOGETHER_ROWS rows, a database without it, statements being watched).
    Raised before anything of the block is sent: the caller takes its other way."""


class _Pending(list):
    __slots__ = ("guarded",)

    def __init__(self, guarded: bool):
        super().__init__()
        self.guarded = guarded


# What a guarded statement fails with when its first write changed no row: PostgreSQL's
# division_by_zero, from ``1 / count(*)`` over that write's RETURNING. Plain SQL can raise no
# error of its own, and a count is never folded into a constant by the planner.
GUARD_FAILED = "22012"


@contextmanager
def together(*, guarded: bool = False) -> Iterator[None]:
    """The writes (``execute``, ``execute_many``) made inside reach the database as one
    statement when the block ends, on PostgreSQL: every one but the last in a data-modifying
    ``WITH``, the rows of an ``execute_many`` as one multi-row ``VALUES``. A cart change's
    writes (the cart row, its revision, its events) were three round trips, each costing the
    worker more CPU in the driver and the hub than the statement cost the server (issue 10).
    A read inside the block sends what is pending first. On SQLite (a library call, no round
    trip to save), and while other listeners watch statements, each runs as it comes. If the
    block raises, nothing pending is sent (the caller rolls back).

    ``guarded``: the block's writes are one statement or nothing, for a caller outside any
    transaction (each statement its own, autocommit). The first write must have a RETURNING
    and change a row, or the whole statement fails (SQLSTATE ``GUARD_FAILED``) and nothing of
    it stays; a statement that cannot join raises ``NotTogether`` before anything is sent."""
    direct = _DIRECT.get()
    session = db.session() if direct is None else None
    info = session.info if direct is None else direct.info
    if _PENDING in info:  # inside another block: that one sends
        if guarded:
            raise NotTogether("a guarded block inside another block")
        yield
        return
    pending = info[_PENDING] = _Pending(guarded)
    try:
        yield
        if pending:
            _send(_connection_of(session) if direct is None else direct.connection, pending)
    finally:
        info.pop(_PENDING, None)


@dataclass(slots=True)
class _Direct:
    connection: Connection
    info: dict = field(default_factory=dict)  # as the session's: the pending writes


_DIRECT: ContextVar[_Direct | None] = ContextVar("storefront_prepared_direct", default=None)


@contextmanager
def on(connection: Connection) -> Iterator[Connection]:
    """Inside, the statements here run on ``connection`` (PostgreSQL's in autocommit, each
    statement committing itself; SQLite's writers' connection in its transaction), not in the
    session's transaction, and ``together`` keeps its pending writes here too. Binding the
    session to the connection for each cart change and ending the session's transaction after
    it (SQLAlchemy's bookkeeping, no round trip) was about 5 to 6 % of a cart add (issue 10).
    ORM and Core statements run through the session meanwhile still go the session's way: the
    caller runs only these inside, or runs others on ``connection`` itself."""
    token = _DIRECT.set(_Direct(connection))
    try:
        yield connection
    finally:
        _DIRECT.reset(token)


def on_connection() -> Connection | None:
    """The connection of the ``on`` block this runs inside, if any."""
    direct = _DIRECT.get()
    return None if direct is None else direct.connection


def _watched(connection: Connection) -> bool:
    dispatch = connection.dispatch
    return len(dispatch.before_cursor_execute) > _own or len(dispatch.after_cursor_execute) > _own


def can_guard() -> bool:
    """Whether writes in ``together(guarded=True)`` can go as one statement on the session's
    connection now: ask before doing work that a ``NotTogether`` would throw away."""
    connection = on_connection() or _connection_of(db.session())
    # psycopg 3: pyformat, and errors carrying their SQLSTATE as the caller reads it.
    dialect = connection.dialect
    return dialect.driver == "psycopg" and not _watched(connection)


def _send(connection: Connection, pending: _Pending) -> None:
    shape = (pending.guarded, *((plan.sql, len(rows)) for plan, rows in pending))
    sql = _together_sql.get(shape)
    if sql is None:
        if len(_together_sql) >= TOGETHER_SHAPES:  # never expected: a bound, not a policy
            _together_sql.clear()
        sql = _together_sql[shape] = _combined_sql(pending)
    arguments = {}
    for i, (_, rows) in enumerate(pending):
        for r, values in enumerate(rows):
            arguments.update({f"s{i}r{r}_{name}": value for name, value in values.items()})
    pending.clear()
    _execute(connection, sql, arguments, False, _nothing, None)


# The combined statement's text for each shape of pending writes (a handful: which statements,
# how many rows each), so the server can keep it prepared.
_together_sql: dict[tuple, str] = {}
TOGETHER_SHAPES = 1024
_NAMED_PARAMETER = re.compile(r"%\((\w+)\)s")


def _combined_sql(pending: _Pending) -> str:
    parts = []
    for i, (plan, rows) in enumerate(pending):
        if len(rows) == 1:
            parts.append(_renamed(plan.sql, f"s{i}r0_"))
            continue
        head, values = plan.sql[: plan.values_at], plan.sql[plan.values_at :]
        parts.append(head + ", ".join(_renamed(values, f"s{i}r{r}_") for r in range(len(rows))))
    if pending.guarded:
        ctes = ", ".join(f"w{i} AS ({text})" for i, text in enumerate(parts))
        return f"WITH {ctes} SELECT 1 / count(*) FROM w0"
    *earlier, last = parts
    if not earlier:
        return last
    return "WITH " + ", ".join(f"w{i} AS ({text})" for i, text in enumerate(earlier)) + " " + last


def _renamed(sql: str, prefix: str) -> str:
    return _NAMED_PARAMETER.sub(lambda found: f"%({prefix}{found.group(1)})s", sql)


def _connection_of(session) -> Connection:
    """The connection of the session's transaction. ``Session.connection()`` walks the
    transaction's state machine each time (about 1 % of a cart add per statement, issue 10): it
    is asked once per transaction, and remembered for as long as that transaction is active."""
    transaction = session.get_transaction()
    remembered = session.info.get(_CONNECTION)
    if remembered is not None and remembered[0] is transaction and transaction.is_active:
        return remembered[1]
    connection = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), connection)
    return connection


_CONNECTION = "storefront.prepared.connection"

# The statement listeners of the shop's own (listen_to_statements): Prepared runs straight on
# the driver while they are the only ones.
_own = 0


def listen_to_statements(before: Callable, after: Callable) -> None:
    """Listen to every engine's statements, before and after, without needing SQLAlchemy's
    execution context (prepared statements give None)."""
    global _own
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    _own += 1


def _nothing(plan: _Plan | None, cursor) -> None:
    return None


def _first(plan: _Plan | None, cursor) -> tuple | None:
    raw = cursor.fetchone()
    if raw is None:
        return None
    return tuple(raw) if plan is None else plan.row(raw)


def _all(plan: _Plan | None, cursor) -> list[tuple]:
    rows = cursor.fetchall()
    if plan is None or not plan.processed:
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
    values = _ONE_VALUES_TUPLE.match(compiled.string) if isinstance(statement, Insert) else None
    return _Plan(
        compiled.string,
        tuple(binds),
        dialect.positional,
        results,
        values_at=values.start(1) if values else None,
        processed=tuple((i, p) for i, p in enumerate(results) if p is not None),
    )


# An INSERT that ends with its one VALUES tuple (no ON CONFLICT, no RETURNING after it).
_ONE_VALUES_TUPLE = re.compile(r"^INSERT INTO [^(]+\([^)]*\) VALUES (\((?:%\(\w+\)s|[^()])*\))$")
