"""A rolling upgrade, checked on real code: the shop as it was just before its newest migration
(taken from git history) runs against the schema this checkout's ``db upgrade`` has migrated,
as the older instance does while the newer one starts (docs/UPGRADING.md, "Expand, then
contract"). It reads every table it maps and serves a shopper: pages, the JSON API, an add to
the cart, the cart again; and what it wrote is read back by this checkout's code.

Needs the repository's history (a clone, not an export or a depth-1 checkout): without it the
test is skipped, saying so.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ROOT / "migrations" / "versions"
SKU = "DEMO-0030"

# Run by the previous release's code, from its own folder (sys.path[0]), on the migrated file.
OLD_SHOP = """
import sys
from pathlib import Path

from sqlalchemy import select

import storefront
from storefront import create_app
from storefront.extensions import db

here = Path.cwd().resolve()
assert Path(storefront.__file__).resolve().is_relative_to(here), storefront.__file__
app = create_app({"TESTING": True, "INSTANCE_PATH": str(here / "instance")})
with app.app_context():
    for mapper in db.Model.registry.mappers:
        db.session.execute(select(mapper.class_).limit(1)).all()
    db.session.remove()

client = app.test_client()
for path in ("/", "/products/SKU", "/cart"):
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
answer = client.get("/api/v1/cart")
assert answer.status_code == 200, answer.status_code
token = answer.headers["X-CSRF-Token"]
answer = client.post(
    "/api/v1/cart/lines", json={"sku": "SKU", "quantity": 2}, headers={"X-CSRF-Token": token}
)
assert answer.status_code == 200, answer.get_data(as_text=True)
lines = {line["sku"]: line["quantity"] for line in client.get("/api/v1/cart").json["lines"]}
assert lines == {"SKU": 2}, lines
assert "SKU" in client.get("/cart").get_data(as_text=True)
print("previous release served a shopper on the migrated schema")
""".replace("SKU", SKU)


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, timeout=60)


def previous_release() -> str | None:
    """The commit just before the newest migration was added (HEAD while that migration is
    not committed yet: the one being written), or None without history."""
    newest = sorted(VERSIONS.glob("*.py"))[-1].relative_to(ROOT)
    added = git("log", "--diff-filter=A", "--format=%H", "-1", "--", str(newest))
    if added.returncode != 0:
        return None
    commit = added.stdout.decode().strip()
    parent = git("rev-parse", "--verify", "--quiet", f"{commit}^" if commit else "HEAD")
    return parent.stdout.decode().strip() or None


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command[:4])}…\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_previous_release_runs_on_the_migrated_schema(tmp_path):
    commit = previous_release()
    if commit is None:
        # Not a missing service: a depth-1 checkout simply has no earlier release to run.
        pytest.skip("no git history here to take the previous release from (clone without --depth)")

    old = tmp_path / "previous"
    old.mkdir()
    archive = git("archive", "--format=tar", commit, "storefront", "templates", "static")
    assert archive.returncode == 0, archive.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(old, filter="data")
    (old / "instance").mkdir()

    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREFRONT_") or k == "CI"}
    env.update(
        STOREFRONT_DATABASE_URL=f"sqlite:///{tmp_path / 'shop.db'}",
        STOREFRONT_SECRET_KEY="upgrade-test-secret",
        STOREFRONT_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        STOREFRONT_MEDIA_DIR=str(tmp_path / "media"),
        STOREFRONT_CART_RATE_LIMIT="10000/second",
    )
    flask = [sys.executable, "-m", "flask", "--app", "storefront"]
    # This checkout migrates the database to its newest schema and fills the demo catalog.
    run([*flask, "db", "upgrade"], ROOT, env)
    run([*flask, "demo"], ROOT, env)
    # The previous release serves a shopper on it (it never ran `db upgrade` itself).
    out = run([sys.executable, "-c", OLD_SHOP], old, env)
    assert "previous release served a shopper" in out

    # What it wrote, this checkout's code reads (decrypting the sealed state it wrote).
    from sqlalchemy import text

    from storefront import create_app
    from storefront.cart import store
    from storefront.extensions import db

    settings = {k: v for k, v in env.items() if k.startswith("STOREFRONT_")}
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), **settings})
    with app.app_context():
        rows = db.session.execute(text("SELECT id, version FROM carts")).all()
        found = {
            (line.sku, line.quantity)
            for cart_id, version in rows
            for line in store.state_at(cart_id, version).lines
        }
        db.session.remove()
    assert (SKU, 2) in found, found
