"""An email from its templates: ``templates/mail/<kind>.txt`` and ``<kind>.html`` (the HTML with
its CSS inlined, as mail clients want), subject starting with the shop's name."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import css_inline
from flask import current_app, render_template

from storefront import clock
from storefront.mail.address import is_sendable

_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


class BadAddress(ValueError):
    """Refused before anything is queued: never a header of our making with a reader's text."""


def one_line(text: str, limit: int = 200) -> str:
    """Header text from anything a shopper or staff typed: no line breaks, bounded."""
    return " ".join(str(text).split())[:limit]


def compose(
    kind: str,
    to: str,
    subject: str,
    context: dict[str, object],
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    config = current_app.config
    if not is_sendable(to):
        raise BadAddress("not a single plain email address")
    context = {**context, "shop_name": config["SHOP_NAME"], "public_url": config["PUBLIC_URL"]}
    message = EmailMessage()
    message["Subject"] = one_line(f"{config['SHOP_NAME']}: {subject}")
    message["From"] = Address(addr_spec=config["MAIL_FROM"])
    message["To"] = Address(addr_spec=to)
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2])
    for name, value in (headers or {}).items():
        message[name] = one_line(value, 998)
    message.set_content(render_template(f"mail/{kind}.txt", **context))
    html = render_template(f"mail/{kind}.html", **context)
    message.add_alternative(_inliner.inline(html), subtype="html")
    return message
