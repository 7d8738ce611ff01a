"""/admin/products and /api/v1/admin/products: staff list, create, edit, retire and restore
products, adjust stock with a reason, and import or export the catalog as CSV. The rules are in
``catalog/editing.py``; this module reads requests and renders."""

from __future__ import annotations

import json

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from storefront.admin.blueprints import api_bp, bp
from storefront.api import parsing
from storefront.catalog import editing, fields, listing
from storefront.catalog.options import to_notation
from storefront.catalog.services import by_sku
from storefront.clock import now
from storefront.errors import BadRequest, InvalidProduct, InvalidStock, NotFound, SkuTaken
from storefront.extensions import csrf
from storefront.money import to_decimal_text
from storefront.web import is_htmx

FORM_FIELDS = ("name", "description", "price", "options", "meta_description")
# A browser upload of a whole catalog outgrows the 64 KB every other request is held to.
IMPORT_MAX_BYTES = 8 * 1024 * 1024
API_FIELDS = {*FORM_FIELDS, "active", "stock", "stock_reason"}


def _currency() -> str:
    return current_app.config["CURRENCY"]


def _staff():
    return current_user._get_current_object()


def _product_or_404(sku: str):
    product = by_sku(sku)
    if product is None:
        raise NotFound(f"There is no product with the SKU {sku[:64]!r}.")
    return product


# --- the list -----------------------------------------------------------------------------------


@bp.get("/products")
def products():
    filters = listing.Filters.read(request.args)
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 1
    found = listing.listed(filters, page, current_app.config["LOW_STOCK"])
    template = "admin/products/index.html"
    if is_htmx() and request.headers.get("HX-Target") == "product-results":
        template = "admin/products/_results.html"
    return render_template(
        template,
        filters=filters,
        listing=found,
        low_stock_at=current_app.config["LOW_STOCK"],
        args={k: v for k, v in request.args.items() if k != "page"},
    )


# --- create and edit ---------------------------------------------------------------------------


def _form_values(product=None) -> dict[str, str]:
    """What the form shows: the product's values, or what staff typed when it was refused."""
    if request.method == "POST":
        return {field: request.form.get(field, "") for field in (*FORM_FIELDS, "sku", "stock")}
    if product is None:
        return {"stock": "0"}
    return _values_of(product)


def _values_of(product) -> dict[str, str]:
    return {
        "name": product.name,
        "description": product.description or "",
        "price": to_decimal_text(product.price_cents, _currency()),
        "options": to_notation(product.option_specs),
        "meta_description": product.meta_description or "",
    }


def _typed(*fields: str) -> dict[str, object]:
    given = {field: request.form.get(field, "") for field in fields}
    given["active"] = request.form.get("active") == "on"
    return given


@bp.route("/products/new", methods=["GET", "POST"])
def products_new():
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            values = fields.clean(_typed("sku", *FORM_FIELDS), _currency())
            try:
                opening = fields.clean_stock_level(
                    fields.whole_number(request.form.get("stock", "").strip() or "0")
                )
            except fields.FieldError as exc:
                raise fields.invalid({"stock": str(exc)}) from None
            product = editing.create(_staff(), values, _currency(), opening)
        except (InvalidProduct, SkuTaken) as exc:
            errors = exc.detail.get("errors") or {"sku": exc.message}
        else:
            flash(f"{product.name} ({product.sku}) created.")
            return redirect(url_for("admin.products_edit", sku=product.sku), 303)
    return render_template(
        "admin/products/new.html",
        values=_form_values(),
        active=request.form.get("active") == "on" if request.method == "POST" else True,
        errors=errors,
    ), 422 if errors else 200


@bp.route("/products/<sku>", methods=["GET", "POST"])
def products_edit(sku: str):
    product = _product_or_404(sku)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            typed = _changed_by_this_form(product, _typed(*FORM_FIELDS))
            values = fields.clean(typed, _currency())
            editing.update(_staff(), sku, values, _currency())
        except InvalidProduct as exc:
            errors = exc.detail.get("errors", {})
        else:
            flash(f"{typed.get('name', product.name)} saved.")
            return redirect(url_for("admin.products_edit", sku=sku), 303)
    return _edit_page(product, errors=errors)


def _shown(product) -> dict[str, object]:
    """What the edit form showed of ``product``, as the form sends it back."""
    return {**_values_of(product), "active": product.active}


def _changed_by_this_form(product, typed: dict[str, object]) -> dict[str, object]:
    """Only the fields staff changed on this form (its hidden ``seen`` holds what it showed),
    so saving one field never puts back another that someone else changed meanwhile; a field
    both changed is refused, naming it. A form without ``seen`` (an old tab): every field."""
    try:
        seen = json.loads(request.form.get("seen", ""))
    except ValueError:
        return typed
    if not isinstance(seen, dict):
        return typed
    mine = {field: value for field, value in typed.items() if seen.get(field) != value}
    now = _shown(product)
    clashes = {
        field: "Someone else changed this while you were editing; here is what it is now."
        for field in mine
        if now.get(field) != seen.get(field) and now.get(field) != mine[field]
    }
    if clashes:
        raise fields.invalid(clashes)
    return mine


def _edit_page(product, *, errors=None, stock_errors=None, stock_values=None):
    failed = bool(errors or stock_errors)
    return render_template(
        "admin/products/edit.html",
        product=product,
        seen=json.dumps(_shown(product)),
        values=_form_values(product) if not errors else _form_values(),
        active=product.active if not errors else request.form.get("active") == "on",
        errors=errors or {},
        stock_errors=stock_errors or {},
        stock_values=stock_values or {},
        low_stock_at=current_app.config["LOW_STOCK"],
    ), 422 if failed else 200


@bp.post("/products/<sku>/stock")
def products_stock(sku: str):
    product = _product_or_404(sku)
    form = request.form
    try:
        change = fields.stock_change(form.get("delta"), form.get("level"), form.get("reason"))
        product = editing.adjust_stock(_staff(), sku, change)
    except InvalidStock as exc:
        errors = exc.detail.get("errors") or {"delta": exc.message}
        values = {k: form.get(k, "") for k in ("delta", "level", "reason")}
        return _edit_page(product, stock_errors=errors, stock_values=values)
    flash(f"Stock of {product.name} is now {product.stock}.")
    return redirect(url_for("admin.products_edit", sku=sku), 303)


@bp.post("/products/<sku>/retire")
def products_retire(sku: str):
    product = editing.set_active(_staff(), sku, False, _currency())
    flash(f"{product.name} is retired: shoppers can no longer buy it.")
    return redirect(url_for("admin.products_edit", sku=sku), 303)


@bp.post("/products/<sku>/restore")
def products_restore(sku: str):
    product = editing.set_active(_staff(), sku, True, _currency())
    flash(f"{product.name} is back in the catalog.")
    return redirect(url_for("admin.products_edit", sku=sku), 303)


# --- CSV ---------------------------------------------------------------------------------------


@bp.get("/products.csv")
def products_export():
    body = "".join(listing.export_rows(_currency()))
    stamp = now().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="products-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/products-import")
def products_import():
    return _import_page()


@bp.post("/products-import")
@csrf.exempt  # checked below, once the larger upload limit is in place
def products_import_upload():
    request.max_content_length = IMPORT_MAX_BYTES
    try:
        csrf.protect()
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        # Nothing was read, so nothing changed: say why in the page's own words.
        refused = f"the file is larger than {IMPORT_MAX_BYTES // 2**20} MB."
        return _import_page(refused=refused, status=413)
    if upload is None or not upload.filename:
        return _import_page(refused="choose a CSV file to import.", status=422)
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        refused = "the file is not UTF-8 text. Save it from your spreadsheet as CSV UTF-8."
        return _import_page(refused=refused, status=422)
    try:
        report = editing.import_text(_staff(), text, _currency())
    except InvalidProduct as exc:
        return _import_page(refused=exc.message, status=422)
    return _import_page(report=report, status=422 if report.errors else 200)


def _import_page(*, report=None, refused=None, status=200):
    return render_template("admin/products/import.html", report=report, refused=refused), status


# --- JSON --------------------------------------------------------------------------------------


def product_json(product) -> dict:
    return {**fields.fields_of(product, _currency()), "currency": _currency()}


@api_bp.get("/products/<sku>")
def api_product(sku: str):
    return jsonify(product_json(_product_or_404(sku)))


@api_bp.patch("/products/<sku>")
def api_update_product(sku: str):
    body = parsing.body()
    parsing.only_keys(body, API_FIELDS)
    if not body:
        raise BadRequest(f"Send at least one of: {', '.join(sorted(API_FIELDS))}.")
    given = {k: v for k, v in body.items() if k not in ("stock", "stock_reason")}
    values = fields.clean(given, _currency())
    change = None
    if "stock" in body or "stock_reason" in body:
        if "stock" not in body:
            raise fields.invalid({"stock_reason": '"stock_reason" goes with a new "stock".'})
        change = fields.stock_level(body["stock"], body.get("stock_reason", ""))
    product = editing.update(_staff(), sku, values, _currency(), stock=change)
    return jsonify(product_json(product))
