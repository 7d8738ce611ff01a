"""Serving product images (/media/<hash>-<width>.webp, and a .jpg for link previews) and the
template helpers that find the pictures a page shows, each page's in one query."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, send_from_directory

from storefront.catalog import images

bp = Blueprint("media", __name__)

# A file's name is a hash of its content: what it names never changes, so browsers and
# proxies may keep it for a year without asking again.
IMMUTABLE = "public, max-age=31536000, immutable"


@bp.get("/media/<name>")
def image(name: str):
    # Only names this shop makes: no dots to climb out, no slashes, no other files.
    found = images.FILE_NAME.fullmatch(name)
    if not found:
        abort(404)
    response = send_from_directory(
        images.media_dir(),
        name,
        mimetype=images.MIMETYPES[found["kind"]],
        max_age=31_536_000,
        conditional=True,
    )
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def register_template_helpers(app: Flask) -> None:
    # The picture macro is a global, imported once: a template's `{% from ... import %}` makes
    # the imported template's module again on every render, because Flask's context adds names
    # (request, session, g) that the cached module lacks. That was about 200 of the 6,100
    # Python calls of an add through htmx (issue 10, bench/per_request.py --htmx). The macro
    # uses only its arguments; an edit to it shows after a restart, even in debug mode.
    app.add_template_global(
        app.jinja_env.get_template("catalog/_picture.html").module.picture, "picture"
    )
    app.add_template_global(images.first_by_product_id, "pictures_by_product_id")
    app.add_template_global(images.first_by_sku, "pictures_by_sku")
    app.add_template_global(images.for_product, "product_pictures")
