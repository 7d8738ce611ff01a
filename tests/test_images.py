"""Product images: what an upload must be (and every refusal, with nothing stored), the
renditions made, how they are served, what staff do with them, and where the pages show them."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, select

from storefront.admin.models import StaffAction
from storefront.catalog import imaging
from storefront.catalog.images import ProductImage
from storefront.extensions import db
from tests.helpers import Browser

# ---- images made for the tests --------------------------------------------------------------


def image_bytes(fmt: str = "JPEG", size=(2000, 1000), mode="RGB", color=(200, 30, 30), **save):
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt, **save)
    return out.getvalue()


def jpeg_rotated(size=(400, 200)) -> bytes:
    """A JPEG stored landscape whose EXIF says "rotate 90° clockwise to show" (orientation 6),
    with a camera model and a GPS position that must not reach the shop's files."""
    image = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x0110] = "Secret Camera 3000"  # Model
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels with almost no data: what an image
    bomb looks like before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def truncated_jpeg() -> bytes:
    """A JPEG whose header is whole and whose pixels stop half way."""
    out = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(out, "JPEG")
    return out.getvalue()[: len(out.getvalue()) // 2]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


# ---- imaging: pure checks -------------------------------------------------------------------


def open_webp(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


def test_a_large_photo_becomes_three_webp_widths_keeping_its_shape():
    processed = imaging.process(image_bytes("JPEG", (2000, 1000)))
    assert [(r.width, r.height) for r in processed.renditions] == [
        (320, 160),
        (640, 320),
        (1280, 640),
    ]
    for rendition in processed.renditions:
        assert open_webp(rendition.data).size == (rendition.width, rendition.height)
    assert re.fullmatch(r"[0-9a-f]{32}", processed.digest)


def test_a_jpeg_of_the_largest_width_is_made_for_link_previews():
    processed = imaging.process(image_bytes("PNG", (2000, 1000), "RGBA", (0, 0, 0, 0)))
    share = Image.open(io.BytesIO(processed.share.data))
    assert (share.format, share.mode, share.size) == ("JPEG", "RGB", (1280, 640))
    assert share.getpixel((10, 10)) == (255, 255, 255)  # transparency shown on white


def test_a_small_image_is_never_upscaled():
    assert [r.width for r in imaging.process(image_bytes("PNG", (500, 250))).renditions] == [
        320,
        500,
    ]
    assert [r.width for r in imaging.process(image_bytes("WEBP", (100, 80))).renditions] == [100]


def test_exif_orientation_is_applied_and_metadata_stripped():
    processed = imaging.process(jpeg_rotated((400, 200)))
    assert (processed.width, processed.height) == (200, 400)
    for rendition in (*processed.renditions, processed.share):
        image = Image.open(io.BytesIO(rendition.data))
        assert image.height > image.width
        assert not image.getexif()
        assert "exif" not in image.info and "xmp" not in image.info
        assert b"Secret Camera" not in rendition.data


def test_transparency_is_kept_and_other_modes_converted():
    rgba = imaging.process(image_bytes("PNG", (50, 50), "RGBA", (0, 0, 0, 0)))
    assert open_webp(rgba.renditions[0].data).mode == "RGBA"
    cmyk = imaging.process(image_bytes("JPEG", (50, 50), "CMYK", (0, 0, 0, 0)))
    assert open_webp(cmyk.renditions[0].data).mode == "RGB"
    palette = imaging.process(image_bytes("PNG", (50, 50), "P", 3))
    assert open_webp(palette.renditions[0].data).mode == "RGB"


def test_the_same_bytes_always_get_the_same_name():
    data = image_bytes("PNG", (10, 10))
    assert imaging.process(data).digest == imaging.process(data).digest
    assert imaging.process(data).digest != imaging.process(image_bytes("PNG", (11, 10))).digest


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (SVG, "not a JPEG, PNG or WebP"),
        (b"just some text, named photo.jpg", "not a JPEG, PNG or WebP"),
        (image_bytes("GIF", (10, 10), "P", 1), "not a JPEG, PNG or WebP"),
        (image_bytes("BMP", (10, 10)), "not a JPEG, PNG or WebP"),
        (truncated_jpeg(), "damaged"),
        (b"", "empty"),
        (png_header_only(100_000, 100_000), "too many pixels"),
        (png_header_only(7000, 6000), "too many pixels"),
        (b"\xff\xd8" + b"\0" * imaging.MAX_BYTES, "larger than 10 MB"),
    ],
    ids=[
        "svg",
        "text",
        "gif",
        "bmp",
        "truncated",
        "empty",
        "bomb",
        "over-40-megapixels",
        "oversized",
    ],
)
def test_what_is_not_an_acceptable_image_is_refused_with_a_reason(data, says):
    with pytest.raises(imaging.ImageRefused, match=says):
        imaging.process(data)


def test_a_real_image_bomb_is_refused_before_its_pixels_are_decoded():
    # 50 megapixels of one bit each: a few kilobytes on disk.
    bomb = image_bytes("PNG", (10_000, 5_000), "1", 0)
    assert len(bomb) < 100_000
    with pytest.raises(imaging.ImageRefused, match="too many pixels"):
        imaging.process(bomb)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.jpg", "a/b.png", "C:\\photos\\x.jpg", "..", "x\0.png", ""]
)
def test_a_file_name_with_a_path_is_refused(name):
    with pytest.raises(imaging.ImageRefused):
        imaging.check_file_name(name)


def test_a_plain_file_name_is_fine_whatever_its_extension():
    imaging.check_file_name("my photo.final.PNG")
    imaging.check_file_name("photo.jpg")  # a PNG named .jpg: the bytes decide, not the name


# ---- the staff page ------------------------------------------------------------------------


@pytest.fixture
def product(make_product):
    return make_product(name="Blue Mug", description="A mug, blue.")


def media_files(app) -> list[Path]:
    folder = Path(app.config["MEDIA_DIR"])
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


def rows(app) -> list[ProductImage]:
    with app.app_context():
        return list(db.session.scalars(select(ProductImage).order_by(ProductImage.id)))


def audit_actions(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (a.action, a.subject)
            for a in db.session.scalars(select(StaffAction).order_by(StaffAction.id))
            if a.action.startswith("product.image")
        ]


def upload(
    who: Browser,
    sku: str,
    data: bytes,
    alt="A blue mug",
    name="mug.jpg",
    mimetype="image/jpeg",
    **kw,
):
    return who.form(
        f"/admin/products/{sku}/images",
        {"image": (io.BytesIO(data), name, mimetype), "alt": alt},
        content_type="multipart/form-data",
        **kw,
    )


def test_the_upload_page_has_labelled_fields(staff, product):
    page = staff.page(f"/admin/products/{product}/images")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<label for="image-file">' in text and 'id="image-file"' in text
    assert '<label for="image-alt">' in text and "required" in text
    assert 'enctype="multipart/form-data"' in text
    assert "no image yet" in text


def test_staff_upload_an_image_and_it_is_stored_resized_and_logged(app, staff, product):
    response = upload(staff, product, image_bytes("JPEG", (2000, 1500)), alt="  A blue   mug  ")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/products/{product}/images"
    [row] = rows(app)
    assert (row.alt_text, row.widths, row.width, row.height, row.position) == (
        "A blue mug",
        "320,640,1280",
        2000,
        1500,
        0,
    )
    names = [p.name for p in media_files(app)]
    assert names == [f"{row.digest}-1280.jpg"] + [
        f"{row.digest}-{w}.webp" for w in (1280, 320, 640)
    ]
    assert audit_actions(app) == [("product.image.add", product)]
    page = staff.page(f"/admin/products/{product}/images").get_data(as_text=True)
    assert "The image was added." in page
    assert 'alt="A blue mug"' in page


def test_images_live_in_the_instance_folder_by_default(app):
    assert app.config["MEDIA_DIR"] == str(Path(app.instance_path) / "media")


@pytest.mark.parametrize("settings", [{"STOREFRONT_MEDIA_DIR": "elsewhere/pictures"}])
def test_the_media_dir_setting_puts_them_elsewhere(app, staff, product, tmp_path):
    assert app.config["MEDIA_DIR"] == str(tmp_path / "elsewhere" / "pictures")
    upload(staff, product, image_bytes("PNG", (100, 100)), name="a.png")
    assert [p.name.split("-")[1] for p in media_files(app)] == ["100.jpg", "100.webp"]


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    # A relative STOREFRONT_MEDIA_DIR is taken from the working directory: a temporary one, so
    # nothing lands in the checkout.
    monkeypatch.chdir(tmp_path)


def assert_refused(app, response, status: int, says: str):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert says in response.get_data(as_text=True)
    assert rows(app) == []
    assert media_files(app) == []
    assert audit_actions(app) == []


@pytest.mark.parametrize(
    ("data", "name", "mimetype", "says"),
    [
        (SVG, "logo.svg", "image/svg+xml", "SVG and other types are not accepted"),
        (SVG, "logo.png", "image/png", "not a JPEG, PNG or WebP"),
        (b"%PDF-1.7 not a picture", "photo.jpg", "image/jpeg", "not a JPEG, PNG or WebP"),
        (png_header_only(100_000, 100_000), "bomb.png", "image/png", "too many pixels"),
        (image_bytes("PNG", (10_000, 5_000), "1", 0), "big.png", "image/png", "too many pixels"),
        (image_bytes("JPEG", (50, 50)), "../../../etc/cron.d/x.jpg", "image/jpeg", "folder path"),
        (image_bytes("JPEG", (50, 50)), "..\\evil.jpg", "image/jpeg", "folder path"),
    ],
    ids=[
        "svg",
        "svg-named-png",
        "not-an-image",
        "bomb-header",
        "bomb-50mp",
        "path",
        "windows-path",
    ],
)
def test_uploads_that_are_not_acceptable_are_refused_and_nothing_is_stored(
    app, staff, product, data, name, mimetype, says
):
    assert_refused(app, upload(staff, product, data, name=name, mimetype=mimetype), 422, says)


def test_a_file_over_the_size_limit_is_refused(app, staff, product):
    # Just over 10 MB: inside the request's allowance, refused by the image check.
    data = b"\xff\xd8\xff" + b"\0" * imaging.MAX_BYTES
    assert_refused(app, upload(staff, product, data), 422, "larger than 10 MB")


def test_a_request_far_over_the_size_limit_is_refused_before_it_is_read(app, staff, product):
    data = b"\0" * (imaging.MAX_BYTES + 200 * 1024)
    assert_refused(app, upload(staff, product, data), 413, "larger than 10 MB")


def test_the_shop_wide_body_limit_still_holds_elsewhere(app, staff, product):
    # Only the upload takes large bodies: the alt text form keeps the 64 KB limit.
    response = staff.form(f"/admin/products/{product}/images/1/alt", {"alt": "x" * 100_000})
    assert response.status_code == 413


@pytest.mark.parametrize("alt", ["", "   ", "x" * 251])
def test_an_image_without_a_proper_alt_text_is_refused(app, staff, product, alt):
    says = "too long" if alt.strip() else "alt text"
    assert_refused(app, upload(staff, product, image_bytes("PNG", (50, 50)), alt=alt), 422, says)


def test_no_file_chosen_is_refused(app, staff, product):
    response = staff.form(
        f"/admin/products/{product}/images", {"alt": "x"}, content_type="multipart/form-data"
    )
    assert_refused(app, response, 422, "Choose an image file")


def test_an_upload_without_the_csrf_token_is_refused(app, staff, product):
    response = staff.client.post(
        f"/admin/products/{product}/images",
        data={"image": (io.BytesIO(image_bytes()), "a.jpg", "image/jpeg"), "alt": "x"},
        content_type="multipart/form-data",
    )
    assert_refused(app, response, 403, "security token")


def test_an_upload_errors_keep_the_alt_text_and_mark_the_field(app, staff, product):
    page = upload(staff, product, SVG, alt="Our logo", name="l.svg").get_data(as_text=True)
    assert 'value="Our logo"' in page
    assert 'aria-invalid="true"' in page and 'role="alert"' in page


@pytest.mark.parametrize("who", ["guest", "shopper"])
def test_only_staff_can_upload(app, product, who):
    browser = Browser(app.test_client())
    if who == "shopper":
        browser.register("shopper@example.com")
    else:
        browser.page("/")
    response = upload(browser, product, image_bytes())
    assert response.status_code == (302 if who == "guest" else 404)
    assert rows(app) == [] and media_files(app) == []


def test_an_unknown_product_is_not_found(app, staff):
    assert staff.page("/admin/products/NOPE-1/images").status_code == 404
    assert upload(staff, "NOPE-1", image_bytes()).status_code == 404
    assert upload(staff, "../etc", image_bytes()).status_code == 404
    assert rows(app) == []


def test_the_same_image_twice_on_one_product_is_refused(app, staff, product):
    data = image_bytes("PNG", (60, 60))
    upload(staff, product, data)
    response = upload(staff, product, data)
    assert response.status_code == 422
    assert "already" in response.get_data(as_text=True)
    assert len(rows(app)) == 1


# ---- alt text, order, delete ----------------------------------------------------------------


def three_images(staff, product) -> None:
    for n in range(3):
        assert (
            upload(staff, product, image_bytes("PNG", (60 + n, 60)), alt=f"Picture {n}").status_code
            == 303
        )


def ids(app) -> list[int]:
    with app.app_context():
        return [
            row.id
            for row in db.session.scalars(
                select(ProductImage).order_by(ProductImage.position, ProductImage.id)
            )
        ]


def test_staff_change_the_alt_text_and_it_is_logged(app, staff, product):
    upload(staff, product, image_bytes("PNG", (60, 60)), alt="Old words")
    [image_id] = ids(app)
    response = staff.form(f"/admin/products/{product}/images/{image_id}/alt", {"alt": "New words"})
    assert response.status_code == 303
    assert rows(app)[0].alt_text == "New words"
    with app.app_context():
        entry = db.session.scalars(
            select(StaffAction).where(StaffAction.action == "product.image.alt")
        ).one()
        assert (
            json.loads(entry.before)["alt"] == "Old words"
            and json.loads(entry.after)["alt"] == "New words"
        )


def test_an_empty_alt_text_is_refused_when_editing(app, staff, product):
    upload(staff, product, image_bytes("PNG", (60, 60)), alt="Words")
    [image_id] = ids(app)
    response = staff.form(f"/admin/products/{product}/images/{image_id}/alt", {"alt": "  "})
    assert response.status_code == 422
    assert rows(app)[0].alt_text == "Words"


def test_staff_reorder_images_and_the_first_is_shown_in_lists(app, staff, product):
    three_images(staff, product)
    first, second, third = ids(app)
    assert (
        staff.form(
            f"/admin/products/{product}/images/{third}/move", {"direction": "up"}
        ).status_code
        == 303
    )
    assert ids(app) == [first, third, second]
    staff.form(f"/admin/products/{product}/images/{third}/move", {"direction": "up"})
    staff.form(
        f"/admin/products/{product}/images/{third}/move", {"direction": "up"}
    )  # already first
    assert ids(app) == [third, first, second]
    listing = staff.page("/?q=" + product).get_data(as_text=True)
    assert 'alt="Picture 2"' in listing and 'alt="Picture 0"' not in listing
    assert [a for a, _ in audit_actions(app)].count("product.image.move") == 2


@pytest.mark.parametrize("direction", ["sideways", "", "UP"])
def test_an_unknown_direction_is_refused(app, staff, product, direction):
    three_images(staff, product)
    before = ids(app)
    response = staff.form(
        f"/admin/products/{product}/images/{before[0]}/move", {"direction": direction}
    )
    assert response.status_code == 422
    assert ids(app) == before


def test_staff_delete_an_image_and_its_files_go(app, staff, product):
    upload(staff, product, image_bytes("PNG", (700, 700)))
    [image_id] = ids(app)
    assert len(media_files(app)) == 4  # 320, 640 and 700 wide, and the JPEG for link previews
    assert staff.form(f"/admin/products/{product}/images/{image_id}/delete").status_code == 303
    assert rows(app) == [] and media_files(app) == []
    assert ("product.image.delete", product) in audit_actions(app)


def test_files_another_product_still_shows_are_kept(app, staff, product, make_product):
    other = make_product()
    data = image_bytes("PNG", (60, 60))
    upload(staff, product, data)
    upload(staff, other, data)
    first, _ = ids(app)
    staff.form(f"/admin/products/{product}/images/{first}/delete")
    assert len(media_files(app)) == 2
    assert staff.client.get(f"/media/{media_files(app)[0].name}").status_code == 200


def test_an_image_of_another_product_or_unknown_is_not_found(app, staff, product, make_product):
    other = make_product()
    upload(staff, other, image_bytes("PNG", (60, 60)))
    [image_id] = ids(app)
    for action, data in (("alt", {"alt": "x"}), ("move", {"direction": "up"}), ("delete", {})):
        assert (
            staff.form(f"/admin/products/{product}/images/{image_id}/{action}", data).status_code
            == 404
        )
        assert (
            staff.form(f"/admin/products/{product}/images/999999/{action}", data).status_code == 404
        )
        assert staff.form(f"/admin/products/{product}/images/-1/{action}", data).status_code == 404
        assert staff.form(f"/admin/products/{product}/images/abc/{action}", data).status_code == 404
    assert len(rows(app)) == 1 and rows(app)[0].alt_text == "A blue mug"


def test_changes_without_csrf_are_refused(app, staff, product):
    upload(staff, product, image_bytes("PNG", (60, 60)))
    [image_id] = ids(app)
    response = staff.client.post(f"/admin/products/{product}/images/{image_id}/delete")
    assert response.status_code in (400, 403)
    assert len(rows(app)) == 1


# ---- serving -------------------------------------------------------------------------------


def test_images_are_served_as_webp_cached_for_a_year(app, staff, product, browser):
    upload(staff, product, image_bytes("JPEG", (800, 400)))
    [row] = rows(app)
    response = browser.client.get(f"/media/{row.digest}-640.webp")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(response.data)).size == (640, 320)
    preview = browser.client.get(f"/media/{row.digest}-800.jpg")
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/jpeg"
    assert preview.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "path",
    [
        "/media/../storefront.db",
        "/media/%2e%2e%2fstorefront.db",
        "/media/secret_key",
        "/media/" + "a" * 32 + "-640.webp",
        "/media/" + "a" * 32 + "-640.webp.png",
        "/media/" + "a" * 32 + "-640.png",
        "/media/" + "A" * 32 + "-640.jpg",
        "/media/..%5csecret_key",
    ],
)
def test_only_existing_image_names_are_served(browser, path, app):
    (Path(app.instance_path) / "media").mkdir(exist_ok=True)
    assert browser.client.get(path).status_code == 404


# ---- the pages -----------------------------------------------------------------------------


def test_the_catalog_shows_the_first_image_and_a_placeholder_otherwise(
    app, staff, browser, make_product
):
    with_image = make_product(name="Pictured")
    without = make_product(name="Plain")
    upload(staff, with_image, image_bytes("JPEG", (1600, 1200)), alt="A pictured thing")
    [row] = rows(app)
    html = browser.page("/?q=TEST-").get_data(as_text=True)
    card = re.search(
        rf'<li class="product-card">(?:(?!</li>).)*{with_image}(?:(?!</li>).)*</li>', html, re.S
    ).group(0)
    assert (
        f'srcset="/media/{row.digest}-320.webp 320w, /media/{row.digest}-640.webp 640w, /media/{row.digest}-1280.webp 1280w"'
        in card
    )
    assert 'sizes="' in card and 'loading="lazy"' in card
    assert 'width="320" height="240"' in card
    assert 'alt="A pictured thing"' in card
    plain = re.search(
        rf'<li class="product-card">(?:(?!</li>).)*{without}(?:(?!</li>).)*</li>', html, re.S
    ).group(0)
    assert 'data-testid="image-placeholder" aria-hidden="true"' in plain and "<img" not in plain


def test_the_catalog_reads_the_images_of_a_page_in_one_query(app, staff, browser, make_products):
    skus = make_products(12, name="Many")
    for n, sku in enumerate(skus[:6]):
        upload(staff, sku, image_bytes("PNG", (40 + n, 40)))
    statements = count_image_queries(app, lambda: browser.page("/?q=Many"))
    assert statements == 1


def count_image_queries(app, action) -> int:
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "product_images" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = action()
        assert response.status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def test_the_product_page_shows_its_first_image_with_srcset(app, staff, browser, product):
    upload(staff, product, image_bytes("JPEG", (1000, 500)), alt="Front of the mug")
    upload(staff, product, image_bytes("JPEG", (999, 500)), alt="Back of the mug")
    first = rows(app)[0]
    html = browser.page(f"/products/{product}").get_data(as_text=True)
    assert f'src="/media/{first.digest}-640.webp"' in html
    assert f"/media/{first.digest}-1000.webp 1000w" in html
    assert 'width="640" height="320"' in html and 'alt="Front of the mug"' in html
    assert "Back of the mug" not in html.split("<main", 1)[1]


def test_the_product_page_without_images_shows_a_placeholder(browser, product):
    html = browser.page(f"/products/{product}").get_data(as_text=True)
    main = html.split("<main", 1)[1]
    assert 'data-testid="image-placeholder"' in main and "<img" not in main


def test_the_cart_shows_each_lines_image_from_one_query(app, staff, browser, make_products):
    skus = make_products(30, name="Cart thing")
    for n, sku in enumerate(skus[:10]):
        upload(staff, sku, image_bytes("PNG", (30 + n, 30)), alt=f"Thing {n}")
    for sku in skus:
        assert browser.add(sku).status_code == 200
    statements = count_image_queries(app, lambda: browser.page("/cart"))
    assert statements == 1
    html = browser.page("/cart").get_data(as_text=True)
    lines = re.findall(r'<li id="line-[^"]+" class="cart-line.*?</li>', html, re.S)
    assert len(lines) == 30
    pictured = [line for line in lines if "<img" in line]
    assert len(pictured) == 10
    assert all(
        'loading="lazy"' in line and 'sizes="4rem"' in line and "srcset=" in line
        for line in pictured
    )
    assert all('data-testid="image-placeholder"' in line for line in lines if "<img" not in line)


def test_a_cart_change_and_a_resync_carry_the_lines_image(app, staff, browser, product):
    upload(staff, product, image_bytes("PNG", (50, 50)), alt="Mug picture")
    response = browser.form("/cart/lines", {"sku": product, "quantity": "1"}, htmx=True)
    assert response.status_code == 200
    assert 'alt="Mug picture"' in response.get_data(as_text=True)  # the pushed fragment's row
    browser.page("/cart")
    sync = browser.client.get("/cart/sync")
    assert sync.status_code == 200 and 'alt="Mug picture"' in sync.get_data(as_text=True)


def test_a_cart_line_shows_the_products_first_image_after_a_reorder(app, staff, browser, product):
    three_images(staff, product)
    first, second, third = ids(app)
    added = browser.form("/cart/lines", {"sku": product, "quantity": "1"}, htmx=True)
    assert 'alt="Picture 0"' in added.get_data(as_text=True)
    for _ in range(2):
        staff.form(f"/admin/products/{product}/images/{third}/move", {"direction": "up"})
    assert ids(app) == [third, first, second]
    changed = browser.form("/cart/lines", {"sku": product, "quantity": "1"}, htmx=True)
    fragment = changed.get_data(as_text=True)
    assert 'alt="Picture 2"' in fragment and 'alt="Picture 0"' not in fragment
    page = browser.page("/cart").get_data(as_text=True).split("<main", 1)[1]
    assert page.count('alt="Picture 2"') == 1 and "Picture 0" not in page


@pytest.mark.parametrize(
    ("action", "data"),
    [("alt", {"alt": "New words"}), ("delete", {}), ("move", {"direction": "down"})],
)
def test_an_image_another_staff_member_deleted_meanwhile_is_reported_gone(
    app, staff, product, monkeypatch, action, data
):
    from sqlalchemy import text

    from storefront.catalog import images

    upload(staff, product, image_bytes("PNG", (60, 60)))
    upload(staff, product, image_bytes("PNG", (61, 60)))
    image_id = ids(app)[0]
    read = images._row

    def read_then_deleted_elsewhere(product, image_id):
        row = read(product, image_id)
        db.session.execute(text("DELETE FROM product_images WHERE id = :id"), {"id": image_id})
        return row

    monkeypatch.setattr(images, "_row", read_then_deleted_elsewhere)
    response = staff.form(f"/admin/products/{product}/images/{image_id}/{action}", data)
    assert response.status_code == 404
    assert "deleted in the meantime" in response.get_data(as_text=True)
    assert [a for a, _ in audit_actions(app)] == ["product.image.add", "product.image.add"]


def test_a_cart_line_rendered_on_its_own_finds_its_picture(app, staff, product):
    from flask import render_template

    from storefront.cart.views import LineView

    upload(staff, product, image_bytes("PNG", (50, 50)), alt="Alone")
    line = LineView("l1", product, "Blue Mug", 1, {}, 999, True, 5)
    with app.test_request_context("/"):
        html = render_template("cart/_line.html", line=line, cart={"version": 1})
    assert 'alt="Alone"' in html and "srcset=" in html


def test_a_product_holds_a_limited_number_of_images(app, staff, product, monkeypatch):
    from storefront.catalog import images

    monkeypatch.setattr(images, "MAX_IMAGES", 2)
    for n in range(2):
        assert upload(staff, product, image_bytes("PNG", (60 + n, 60))).status_code == 303
    response = upload(staff, product, image_bytes("PNG", (70, 60)))
    assert response.status_code == 422 and "at most 2 images" in response.get_data(as_text=True)
    assert len(rows(app)) == 2 and len(media_files(app)) == 4


def test_a_cached_image_is_answered_not_modified(app, staff, product, browser):
    upload(staff, product, image_bytes("PNG", (60, 60)))
    [row] = rows(app)
    first = browser.client.get(f"/media/{row.digest}-60.webp")
    again = browser.client.get(
        f"/media/{row.digest}-60.webp", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_a_lines_picture_is_read_apart_from_the_session_unless_it_is_in_a_transaction(
    app, staff, product
):
    """After a cart change has committed outside the session, its render reads the pictures on a
    kept autocommit connection: the session opens no transaction (and takes no connection) for
    one SELECT. Inside the session's transaction they are read in it, its own writes seen."""
    from sqlalchemy import update

    from storefront import database, prepared
    from storefront.catalog import images

    upload(staff, product, image_bytes("PNG", (50, 50)), alt="Mug picture")
    with app.app_context():
        assert images.first_by_sku([product])[product].alt == "Mug picture"
        assert not db.session().in_transaction()
        [kept] = [connection for connection, _ in database._autocommit_kept(db.engine)]
        driver = kept.connection.driver_connection
        if db.engine.dialect.name == "sqlite":
            assert not driver.in_transaction  # no BEGIN of ours left open on it
        else:
            assert driver.autocommit

        db.session.execute(update(ProductImage).values(alt_text="Not committed"))
        assert images.first_by_sku([product])[product].alt == "Not committed"
        db.session.rollback()
        assert images.first_by_sku([product])[product].alt == "Mug picture"

        # Inside a change's block: that block's connection.
        with (
            database.autocommit_connection() as connection,
            prepared.on(connection),
            database.reading_apart(),
        ):
            assert prepared.on_connection() is connection

    with app.app_context():
        # The pool's other connections begin as before: the next reader's BEGIN is ours.
        db.session.execute(select(ProductImage.id))
        if db.engine.dialect.name == "sqlite":
            assert db.session.connection().connection.driver_connection.in_transaction
        db.session.rollback()
