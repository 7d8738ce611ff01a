"""What travels after a change: a small HTML fragment of only what changed, rendered once and
session-agnostic (no CSRF token, no flash), for the sender's response and every other page.
"""

from __future__ import annotations

from flask import render_template

from storefront.cart.services import ChangeView
from storefront.cart.state import AddLine, Clear, SetQuantity
from storefront.cart.store import Change

RESYNC = '<template data-control="resync"></template>'
# Beyond this many changed lines a page is better off fetching the cart once.
MAX_LINES_IN_EVENT = 50


def state_fragment(change: Change, view: ChangeView, *, origin: str, seen: int | None) -> str:
    if change.replayed:
        # A repeated idempotency key (an offline queue's replay, a retry after a lost answer):
        # nothing changed now, so there is no difference to send, yet the page asking may never
        # have seen the first result. It gets the whole cart as of that change, which it
        # applies only if it shows an older version.
        return render_template("cart/_sync.html", cart=view.whole)
    before, after = change.before, change.after
    if isinstance(change.op, Clear) and len(before):
        new, changed, removed, cleared = [], [], [], True
    else:
        new = [line for line in view.touched if before.line(line.id) is None]
        changed = [line for line in view.touched if before.line(line.id) is not None]
        removed = [line.id for line in before.lines if after.line(line.id) is None]
        cleared = False
        if len(new) + len(changed) + len(removed) > MAX_LINES_IN_EVENT:
            return RESYNC
    op = change.op
    return render_template(
        "realtime/_state.html",
        cart=view,
        new=new,
        changed=changed,
        removed=removed,
        cleared=cleared,
        origin=origin,
        seen=seen,
        op="set" if isinstance(op, SetQuantity) else "add" if isinstance(op, AddLine) else "",
        line_id=getattr(op, "line_id", ""),
        quantity=getattr(op, "quantity", ""),
    )


def notice_for_others(text: str, origin: str) -> str:
    return render_template("realtime/_notice.html", text=text, origin=origin)


def hello(cart_id: int | None, version: int) -> str:
    return render_template("realtime/_hello.html", cart_id=cart_id or "", version=version)
