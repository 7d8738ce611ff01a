"""/admin/products/<sku>/images: staff upload a product's pictures, describe them, put them in
order and delete them. Plain forms with a redirect after each change, so it works without
JavaScript."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from storefront.admin.blueprints import bp
from storefront.catalog import images as catalog_images
from storefront.catalog import imaging
from storefront.catalog import services as catalog
from storefront.extensions import csrf
from storefront.web import whole_number

# The whole multipart body: the file's limit and room for the other fields and the framing.
# Everywhere else the shop's 64 KB body limit stands.
UPLOAD_BODY_LIMIT = imaging.MAX_BYTES + 64 * 1024


def _product(sku: str):
    product = catalog.by_sku(sku)
    if product is None:
        abort(404)
    return product


def _image_id(text: str) -> int:
    # Matched as text, not an int converter, so the guard answers first for any address.
    number = whole_number(text, 9)
    if number is None:
        abort(404)
    return number


def _page(product, status: int = 200, error: str = "", alt: str = "", error_for: str = "upload"):
    return (
        render_template(
            "admin/images/index.html",
            product=product,
            pictures=catalog_images.for_product(product.id),
            error=error,
            error_for=error_for,
            alt=alt,
            max_mb=imaging.MAX_BYTES // (1024 * 1024),
            max_megapixels=imaging.MAX_PIXELS // 1_000_000,
            max_alt=catalog_images.MAX_ALT,
        ),
        status,
    )


def _back(product):
    return redirect(url_for("admin.products_images", sku=product.sku), code=303)


@bp.get("/products/<sku>/images")
def products_images(sku: str):
    return _page(_product(sku))


# CSRF is checked below, by hand, once the larger body limit is in place: the app-wide check
# runs first and would read the body under the 64 KB limit.
@bp.post("/products/<sku>/images")
@csrf.exempt
def products_images_upload(sku: str):
    product = _product(sku)
    request.max_content_length = UPLOAD_BODY_LIMIT
    try:
        csrf.protect()
        upload = request.files.get("image")
        alt = request.form.get("alt", "")
    except RequestEntityTooLarge:
        message = f"The file is larger than {imaging.MAX_BYTES // (1024 * 1024)} MB."
        return _page(product, 413, message)
    if upload is None or not upload.filename:
        return _page(product, 422, "Choose an image file to upload.", alt)
    data = upload.stream.read(imaging.MAX_BYTES + 1)
    try:
        catalog_images.add(current_user._get_current_object(), product, upload.filename, data, alt)
    except catalog_images.InvalidImage as refused:
        return _page(product, 422, refused.message, alt)
    flash("The image was added.", "ok")
    return _back(product)


@bp.post("/products/<sku>/images/<image_id>/alt")
def products_images_alt(sku: str, image_id: str):
    product = _product(sku)
    try:
        catalog_images.set_alt(
            current_user._get_current_object(),
            product,
            _image_id(image_id),
            request.form.get("alt", ""),
        )
    except catalog_images.InvalidImage as refused:
        return _page(product, 422, refused.message, error_for="image")
    flash("The alt text was saved.", "ok")
    return _back(product)


@bp.post("/products/<sku>/images/<image_id>/move")
def products_images_move(sku: str, image_id: str):
    product = _product(sku)
    direction = request.form.get("direction", "")
    try:
        catalog_images.move(
            current_user._get_current_object(), product, _image_id(image_id), direction
        )
    except catalog_images.InvalidImage as refused:
        return _page(product, 422, refused.message, error_for="image")
    flash("The image was moved.", "ok")
    return _back(product)


@bp.post("/products/<sku>/images/<image_id>/delete")
def products_images_delete(sku: str, image_id: str):
    product = _product(sku)
    catalog_images.delete(current_user._get_current_object(), product, _image_id(image_id))
    flash("The image was deleted.", "ok")
    return _back(product)
