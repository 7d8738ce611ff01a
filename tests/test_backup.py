"""``storefront backup``, ``restore`` and ``backup --verify``: a shop backed up while shoppers
keep changing their carts comes back exactly as it was at the backup's moment, and a damaged
backup or a missing key is caught before anyone relies on it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from storefront import create_app
from storefront.backup.manifest import KEYS_FILE, Manifest, sha256_of
from storefront.cart import codec, store
from storefront.cart.sealing import aad, keyring
from storefront.extensions import db
from tests import dbs
from tests.conftest import app_settings
from tests.factories import ENGRAVABLE, PLAIN
from tests.helpers import Browser
from tests.test_checkout import complete, ready
from tests.test_images import image_bytes, upload


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual"}


@pytest.fixture
def target_url(tmp_path):
    """An empty database for the restore: a new file, or a new PostgreSQL database."""
    if dbs.POSTGRES_URL:
        url = dbs.create_postgres_database(prefix="storefront_restore")
        yield url
        dbs.drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'restored' / 'storefront.db'}"


def target_app(url: str, instance: Path, **extra):
    instance.mkdir(parents=True, exist_ok=True)
    return create_app(
        app_settings(url, str(instance), STOREFRONT_MEDIA_DIR=str(instance / "media"), **extra)
    )


def run(app, *args):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def stock_the_shop(app, staff, sample_catalog) -> list[Browser]:
    """Three shoppers with history and an engraving, one paid order, two product images."""
    shoppers = [Browser(app.test_client()) for _ in range(3)]
    for number, shopper in enumerate(shoppers):
        shopper.add(PLAIN, number + 1)
        shopper.add(ENGRAVABLE, 1, {"engraving": f"For Ada, no. {number}"})
        line = shopper.line_id(PLAIN)
        shopper.api("PATCH", f"/cart/lines/{line}", json={"quantity": number + 4})
    buyer = Browser(app.test_client())
    ready(buyer, PLAIN, 2)
    assert complete(buyer).status_code == 201
    for color in ((200, 0, 0), (0, 0, 200)):
        response = upload(staff, PLAIN, image_bytes(size=(900, 600), color=color))
        assert response.status_code in (200, 303), response.get_data(as_text=True)
    return shoppers


def cart_histories(url: str, app) -> dict[int, tuple]:
    """Every cart: its version, its state and every revision's operation, decrypted."""
    engine = create_engine(url)
    result = {}
    with app.app_context(), engine.connect() as conn:
        ring = keyring()
        carts = conn.execute(text("SELECT id, version, state FROM carts ORDER BY id")).all()
        for cart_id, version, state in carts:
            ops = [
                (v, source, device, codec.decode_op(ring.open(op, aad("rev", cart_id, v))))
                for v, source, device, op in conn.execute(
                    text(
                        "SELECT version, source, device, op FROM cart_revisions "
                        "WHERE cart_id = :c ORDER BY version"
                    ),
                    {"c": cart_id},
                )
            ]
            opened = None
            if state is not None:
                opened = codec.decode_cart(ring.open(state, aad("state", cart_id, version)))
            result[cart_id] = (version, opened, ops)
    engine.dispose()
    return result


def table_rows(url: str, table: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
    engine.dispose()
    return rows


def test_a_shop_backed_up_under_load_restores_exactly_as_it_was_at_that_moment(
    app, staff, sample_catalog, target_url, tmp_path
):
    shoppers = stock_the_shop(app, staff, sample_catalog)
    source_url = app.config["SQLALCHEMY_DATABASE_URI"]
    stop, changes, errors = threading.Event(), [0], []

    def keep_shopping():
        # A shopper who never stops: the backup must not tear between a cart and its history.
        with app.app_context():
            shopper = shoppers[0]
            line = shopper.line_id(PLAIN)
            while not stop.is_set():
                changes[0] += 1
                answer = shopper.api(
                    "PATCH", f"/cart/lines/{line}", json={"quantity": 1 + changes[0] % 50}
                )
                if answer.status_code != 200:
                    errors.append(answer.status_code)

    load = threading.Thread(target=keep_shopping)
    load.start()
    try:
        while changes[0] < 5:
            threading.Event().wait(0.01)
        backup = tmp_path / "backups" / "monday"
        at_start = changes[0]
        made = run(app, "backup", backup)
        during = changes[0] - at_start
    finally:
        stop.set()
        load.join()
    assert made.exit_code == 0, made.output
    assert not errors
    assert during > 0, "the shopper kept changing the cart while the backup ran"
    assert "backup: " in made.output and "store that file apart" in made.output

    manifest = Manifest.read(backup)
    assert manifest.counts["orders"] == 1 and manifest.counts["product_images"] == 2
    assert (backup / KEYS_FILE).stat().st_mode & 0o077 == 0
    images = sorted(p.name for p in (backup / "media").iterdir())
    assert len(images) >= 2 * 2

    restored = target_app(target_url, tmp_path / "restored")
    answer = run(restored, "restore", backup)
    assert answer.exit_code == 0, answer.output
    assert "restore: " in answer.output

    source, copy = cart_histories(source_url, app), cart_histories(target_url, restored)
    assert set(copy) == set(source)
    for cart_id, (version, state, ops) in copy.items():
        # Each cart as it was at the backup's moment: its state is the one its own history
        # replays to, and that history is the source's, revision for revision.
        assert ops == source[cart_id][2][: len(ops)]
        assert ops[-1][0] == version if ops else version == 0
        with restored.app_context():
            assert state == (store.state_at(cart_id, version) if ops else None)
    engraved = [s for _, s, _ in copy.values() if s and any(line.options for line in s.lines)]
    assert engraved, "the engravings came back"
    for table in ("orders", "order_events", "stock_movements", "product_images", "products"):
        assert table_rows(target_url, table) == table_rows(source_url, table)
    media = Path(restored.config["MEDIA_DIR"])
    for name in images:
        assert (media / name).read_bytes() == (backup / "media" / name).read_bytes()

    # The restored shop serves the restored carts and pictures.
    with restored.app_context():
        db.session.remove()
    shopper_page = restored.test_client().get(f"/media/{images[0]}")
    assert shopper_page.status_code == 200


def test_verify_passes_a_good_backup_and_names_what_it_opened(app, staff, sample_catalog, tmp_path):
    stock_the_shop(app, staff, sample_catalog)
    backup = tmp_path / "b"
    assert run(app, "backup", backup).exit_code == 0
    checked = run(app, "backup", "--verify", backup)
    assert checked.exit_code == 0, checked.output
    assert "verify: OK" in checked.output
    assert "decrypted" in checked.output and "in carts" in checked.output
    assert "in orders" in checked.output


def test_verify_catches_a_flipped_byte_anywhere(app, staff, sample_catalog, tmp_path):
    stock_the_shop(app, staff, sample_catalog)
    backup = tmp_path / "b"
    assert run(app, "backup", backup).exit_code == 0
    manifest = Manifest.read(backup)
    for relative in (manifest.database_file, next(f for f in manifest.files if "media/" in f)):
        path = backup / relative
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        checked = run(app, "backup", "--verify", backup)
        assert checked.exit_code == 1
        assert f"{relative}: damaged" in checked.output
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    assert run(app, "backup", "--verify", backup).exit_code == 0


def test_verify_catches_a_sealed_value_changed_even_with_the_checksums_redone(
    app, staff, sample_catalog, tmp_path
):
    """Someone (or something) that rewrites the manifest too is still caught by the
    decryption: every sealed value is bound to its row."""
    if dbs.POSTGRES_URL:
        pytest.skip("edits the SQLite copy in place; the PostgreSQL dump is checked by checksum")
    stock_the_shop(app, staff, sample_catalog)
    backup = tmp_path / "b"
    assert run(app, "backup", backup).exit_code == 0
    engine = create_engine(f"sqlite:///{backup / 'database.sqlite3'}")
    with engine.begin() as conn:
        cart_id, state = conn.execute(text("SELECT id, state FROM carts LIMIT 1")).one()
        flipped = bytearray(state)
        flipped[-1] ^= 0x01
        conn.execute(
            text("UPDATE carts SET state = :s WHERE id = :i"), {"s": flipped, "i": cart_id}
        )
    engine.dispose()
    data = json.loads((backup / "manifest.json").read_text())
    path = backup / "database.sqlite3"
    data["files"]["database.sqlite3"] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    (backup / "manifest.json").write_text(json.dumps(data))
    checked = run(app, "backup", "--verify", backup)
    assert checked.exit_code == 1
    assert f"carts {cart_id}: damaged" in checked.output


def test_verify_catches_a_missing_key(app, staff, sample_catalog, tmp_path):
    stock_the_shop(app, staff, sample_catalog)
    backup = tmp_path / "b"
    assert run(app, "backup", backup).exit_code == 0
    keys_file = backup / KEYS_FILE
    wrong = "STOREFRONT_SECRET_KEY=x\nSTOREFRONT_ENCRYPTION_KEYS=" + "A" * 43 + "=\n"
    keys_file.chmod(0o600)
    keys_file.write_text(wrong)
    checked = run(app, "backup", "--verify", backup)
    assert checked.exit_code == 1
    assert "the keys do not include key id" in checked.output
    assert "sealed under a key the keys file does not hold" in checked.output


def test_a_backup_never_overwrites_an_existing_one(app, tmp_path):
    backup = tmp_path / "b"
    backup.mkdir()
    (backup / "something").write_text("keep me")
    answer = run(app, "backup", backup)
    assert answer.exit_code == 1
    assert "already exists" in answer.output
    assert (backup / "something").read_text() == "keep me"


def test_restore_refuses_a_database_that_holds_data_unless_forced(
    app, staff, sample_catalog, tmp_path
):
    stock_the_shop(app, staff, sample_catalog)
    backup = tmp_path / "b"
    assert run(app, "backup", backup).exit_code == 0
    before = table_rows(app.config["SQLALCHEMY_DATABASE_URI"], "carts")
    refused = run(app, "restore", backup)
    assert refused.exit_code == 1
    assert "already holds tables" in refused.output and "--force" in refused.output
    assert table_rows(app.config["SQLALCHEMY_DATABASE_URI"], "carts") == before


def test_restore_refuses_a_damaged_backup_and_changes_nothing(
    app, staff, sample_catalog, target_url, tmp_path
):
    stock_the_shop(app, staff, sample_catalog)
    backup = tmp_path / "b"
    assert run(app, "backup", backup).exit_code == 0
    manifest = Manifest.read(backup)
    (backup / manifest.database_file).write_bytes(b"not a database")
    restored = target_app(target_url, tmp_path / "restored")
    answer = run(restored, "restore", backup)
    assert answer.exit_code == 1 and "damaged" in answer.output
    engine = create_engine(target_url)
    with engine.connect() as conn:
        from sqlalchemy import inspect

        assert inspect(conn).get_table_names() == []
    engine.dispose()


def test_a_new_box_gets_the_backups_keys_when_its_own_are_generated(tmp_path, monkeypatch):
    """The embedded default: keys live in the instance folder. Restoring onto a fresh box puts
    the backup's keys there (keeping the generated ones aside), so the shop opens its carts."""
    for name in ("STOREFRONT_DATABASE_URL", "STOREFRONT_SECRET_KEY", "STOREFRONT_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    old_box = create_app({"INSTANCE_PATH": str(tmp_path / "old"), "TESTING": True})
    with old_box.app_context():
        upgrade()
        from tests.factories import make_product

        sku = make_product(options="engraving:text(40)")
    shopper = Browser(old_box.test_client())
    assert shopper.add(sku, 2, {"engraving": "To the new box"}).status_code == 200
    cookie = shopper.client.get_cookie("storefront")
    backup = tmp_path / "b"
    assert run(old_box, "backup", backup).exit_code == 0

    new_box = create_app({"INSTANCE_PATH": str(tmp_path / "new"), "TESTING": True})
    answer = run(new_box, "restore", backup)
    assert answer.exit_code == 0, answer.output
    assert "replaced by the backup's" in answer.output
    kept = list((tmp_path / "new").glob("encryption_keys.before-restore-*"))
    assert len(kept) == 1, "the generated key is kept aside, never destroyed"

    reopened = create_app({"INSTANCE_PATH": str(tmp_path / "new"), "TESTING": True})
    client = reopened.test_client()
    client.set_cookie("storefront", cookie.value)
    cart = client.get("/api/v1/cart").json
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [(sku, 2)]
    assert cart["lines"][0]["options"] == {"engraving": "To the new box"}


def test_restore_without_the_keys_says_how_to_give_them(app, staff, sample_catalog, tmp_path):
    stock_the_shop(app, staff, sample_catalog)
    backup = tmp_path / "b"
    assert run(app, "backup", backup).exit_code == 0
    apart = tmp_path / "safe" / KEYS_FILE
    apart.parent.mkdir()
    (backup / KEYS_FILE).rename(apart)
    other_key = "B" * 43 + "="
    target = dbs.create_postgres_database() if dbs.POSTGRES_URL else None
    url = target or f"sqlite:///{tmp_path / 'r' / 'storefront.db'}"
    try:
        restored = target_app(url, tmp_path / "r", STOREFRONT_ENCRYPTION_KEYS=other_key)
        refused = run(restored, "restore", backup)
        assert refused.exit_code == 1
        assert "does not hold" in refused.output and "--keys" in refused.output
        # The keys file kept apart is named on the command line: verify and restore accept it.
        assert run(app, "backup", "--verify", backup, "--keys", apart).exit_code == 0
    finally:
        if target:
            dbs.drop_postgres_database(target)
