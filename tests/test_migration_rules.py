"""Expand, then contract (docs/UPGRADING.md): during a rolling upgrade the previous release's
code still runs against the schema ``db upgrade`` has just migrated, so a migration may only
add (tables, nullable columns or columns with a server default, indexes) and copy data. Taking
away or renaming what the previous release reads or writes (a table, a column; a column made
NOT NULL, renamed or retyped) waits for a later release whose code no longer uses it, and that
migration says so: a module-level ``CONTRACT = "..."`` naming the release since which nothing
reads it.

This test reads every migration's ``upgrade()`` and refuses what breaks the rule; the test in
tests/test_upgrade_compatibility.py runs the previous release's code on the migrated schema.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
MIGRATIONS = sorted(VERSIONS.glob("*.py"))

TAKES_AWAY = {"drop_table", "drop_column", "rename_table"}
SQL_TAKING_AWAY = ("DROP TABLE", "DROP COLUMN", "RENAME", "ALTER COLUMN")


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _column_needs_a_value(column: ast.expr) -> str | None:
    """For ``sa.Column(...)`` added to an existing table: why older code cannot insert rows."""
    if not (isinstance(column, ast.Call) and getattr(column.func, "attr", "") == "Column"):
        return None
    if _is_false(_keyword(column, "nullable")) and _keyword(column, "server_default") is None:
        name = column.args[0].value if column.args else "?"
        return f"adds NOT NULL column {name!r} without a server_default"
    return None


def violations(source: str) -> list[str]:
    """What ``upgrade()`` in a migration's source does that the previous release cannot run on."""
    tree = ast.parse(source)
    if any(
        isinstance(node, ast.Assign)
        and any(getattr(t, "id", "") == "CONTRACT" for t in node.targets)
        for node in tree.body
    ):
        return []  # a contract step, released after the code that used what it removes
    upgrade = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )
    if upgrade is None:
        return ["has no upgrade()"]
    found = []
    calls = sorted(
        (n for n in ast.walk(upgrade) if isinstance(n, ast.Call)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in calls:
        if not isinstance(node.func, ast.Attribute):
            continue
        name, line = node.func.attr, node.lineno
        if name in TAKES_AWAY:
            found.append(f"line {line}: {name}")
        elif name == "alter_column":
            for keyword in ("new_column_name", "type_"):
                if _keyword(node, keyword) is not None:
                    found.append(f"line {line}: alter_column({keyword}=...)")
            if _is_false(_keyword(node, "nullable")):
                found.append(f"line {line}: alter_column(nullable=False)")
        elif name == "add_column":
            for column in node.args:
                reason = _column_needs_a_value(column)
                if reason:
                    found.append(f"line {line}: {reason}")
        elif name == "execute" and node.args and isinstance(node.args[0], ast.Constant):
            sql = str(node.args[0].value).upper()
            for words in SQL_TAKING_AWAY:
                if words in sql:
                    found.append(f"line {line}: execute({words} ...)")
    return found


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda p: p.stem)
def test_migration_only_expands(migration):
    found = violations(migration.read_text())
    assert not found, (
        f"{migration.name} takes away what the running release uses (docs/UPGRADING.md, "
        f"'Expand, then contract'): {found}"
    )


BAD = """
import sqlalchemy as sa
from alembic import op

def upgrade():
    op.drop_column("carts", "note")
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("channel", sa.String(8), nullable=False))
        batch.alter_column("email", new_column_name="contact")
    op.alter_column("users", "name", nullable=False)
    op.execute("ALTER TABLE products RENAME TO items")

def downgrade():
    op.drop_table("anything")  # downgrades may take away: they run on an old release
"""


def test_the_check_refuses_each_kind_of_contraction():
    found = violations(BAD)
    assert found == [
        "line 6: drop_column",
        "line 8: adds NOT NULL column 'channel' without a server_default",
        "line 9: alter_column(new_column_name=...)",
        "line 10: alter_column(nullable=False)",
        "line 11: execute(RENAME ...)",
    ], found


def test_a_contract_step_says_so_and_is_let_through():
    marked = 'CONTRACT = "carts.note unused since 0.3"\n' + BAD
    assert violations(marked) == []


def test_expanding_is_allowed():
    good = """
import sqlalchemy as sa
from alembic import op

def upgrade():
    op.create_table("gifts", sa.Column("id", sa.Integer(), nullable=False, primary_key=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("gift", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("note", sa.String(80), nullable=True))
    op.create_index("ix_orders_gift", "orders", ["gift"])
    op.execute("UPDATE orders SET note = ''")
"""
    assert violations(good) == []
