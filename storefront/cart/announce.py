"""The cart announces its own changes: after the commit, one call describes the change, words
it, renders it once as out-of-band HTML of only what changed (session-agnostic: no CSRF token,
no flash) and publishes it on the shopper's channel. The sender's own page gets the same
fragment in its response. The fragment is rendered only when someone needs it: a page listening
on a channel it goes to, or the sender's page asking for it (rendering it was about a quarter of
an add through the API, issue 10). Also: who a live page's socket listens as.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property, partial

from flask import render_template
from markupsafe import Markup

from storefront import realtime, shopper
from storefront.accounts import services as accounts
from storefront.cart import notices, store, views
from storefront.cart.state import AddLine, Clear, SetQuantity
from storefront.cart.types import Change, Owner
from storefront.catalog import changes as catalog_changes
from storefront.realtime.registry import RESYNC, Greeting, Listener
from storefront.sharing import services as sharing
from storefront.sharing import words

# Beyond this many changed lines a page is better off fetching the cart once.
MAX_LINES_IN_EVENT = 50


class Announcement:
    def __init__(self, view: views.ChangeView, render: Callable[[], str], message: str):
        self.view = view
        self.message = message  # what the change did, in words, for the sender
        self._render = render

    @cached_property
    def html(self) -> str:
        """The change's out-of-band pieces, rendered on first use: what listening pages get."""
        return self._render()

    @property
    def fragment(self) -> Markup:
        """The same, for the sender's own response (a template inserts it as it is)."""
        return Markup(self.html)


def announce(
    owner: Owner,
    change: Change,
    *,
    origin: str,
    seen: int | None,
    whole_cart: bool = False,
    elsewhere: Markup | None = None,
) -> Announcement:
    """``origin``: the page that asked (its own notice is not news to it); ``seen``: the
    version it showed; ``whole_cart``: the answer lists every line (API); ``elsewhere``: what
    other pages are told, when the caller knows better than the change (an order's number)."""
    committed = time.time()  # the change was committed just before: its push starts here
    view = views.view_change(owner, change, whole_cart=whole_cart)
    names = views.names_for(notices.skus_named_by(change), view.touched, change)
    news = Announcement(
        view,
        partial(_fragment, change, view, origin=origin, seen=seen),
        notices.change_notice(change, names),
    )
    if not change.replayed:
        elsewhere = elsewhere or notices.change_notice_elsewhere(change, names)
        if change.channels:
            _publish_shared(change, names, elsewhere, news, origin, committed)
        elif realtime.listening(owner.channel):
            notice = _notice_elsewhere(elsewhere, origin) if elsewhere else ""
            realtime.publish(owner.channel, notice + news.html, since=committed)
    return news


def _fragment(change: Change, view: views.ChangeView, *, origin: str, seen: int | None) -> str:
    if change.replayed:
        # A repeated idempotency key (an offline queue's replay, a retry after a lost answer):
        # nothing changed now, so there is no difference to send, yet the page asking may never
        # have seen the first result. It gets the whole cart as of that change, which it
        # applies only if it shows an older version.
        return render_template("cart/_sync.html", cart=view.whole)
    before, after, op = change.before, change.after, change.op
    if isinstance(op, Clear) and len(before):
        new, changed, removed, cleared = [], [], [], True
    else:
        new = [line for line in view.touched if before.line(line.id) is None]
        changed = [line for line in view.touched if before.line(line.id) is not None]
        removed = [line.id for line in before.lines if after.line(line.id) is None]
        cleared = False
        if len(new) + len(changed) + len(removed) > MAX_LINES_IN_EVENT:
            return RESYNC
    return render_template(
        "cart/_change.html",
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


def _publish_shared(
    change: Change, names, elsewhere: str, news: Announcement, origin: str, since: float
) -> None:
    """A shared cart: both accounts' pages get the change; the other account's are told who
    made it ("Sam changed Blue Mug to 3."), the actor's own other devices as before."""
    listened = [
        (user_id, channel)
        for user_id, channel in zip(change.sharers, change.channels, strict=True)
        if realtime.listening(channel)
    ]
    if not listened:
        return
    who = sharing.names_of([change.actor]).get(change.actor, "") if change.actor else ""
    for user_id, channel in listened:
        text = elsewhere if user_id == change.actor else words.by_whom(who, change, names)
        notice = _notice_elsewhere(text, origin) if text else ""
        realtime.publish(channel, notice + news.html, since=since)


def _notice_elsewhere(text: str, origin: str) -> str:
    return render_template("cart/_notice_elsewhere.html", text=text, origin=origin)


def listener() -> Listener:
    """A live page listens on its shopper's channel, and on the catalog's (prices, stock);
    a signed-in device's pages stop hearing when that device's session ends."""
    owner = shopper.current_owner()
    greet = partial(_greeting, owner)
    also = (catalog_changes.CHANNEL,)
    token = shopper.session_token()
    if token is None:
        return Listener(owner.channel, greet, also=also)
    return Listener(
        owner.channel,
        greet,
        session=accounts.session_key(token),
        deadline=partial(accounts.session_deadline, token),
        also=also,
    )


def _greeting(owner: Owner) -> Greeting:
    snap = store.read(owner)
    hello = render_template("cart/_hello.html", cart_id=snap.cart_id or "", version=snap.version)
    # The state as static/js/cart/fallback.js names it.
    return Greeting(hello, f"{snap.cart_id or ''}:{snap.version}")
