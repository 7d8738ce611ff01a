"""What sharing costs the add path: adds by an account with its own cart (the baseline, which
must pay nothing for sharing), by the owner of a shared cart, and by its member (one more
indexed lookup: the member's own cart is set aside), interleaved in one run.

    .venv/bin/python bench/sharing.py [--adds N]

The real app on a fresh SQLite file (migrations, demo catalog), driven in process through its
WSGI interface; each add is ``POST /api/v1/cart/lines`` with ``Prefer: return=minimal``, timed
in the server (wall and thread CPU). The three accounts take turns, so load on the machine
falls on all three alike. Each cart holds 100 lines after the first 100 adds; later adds raise
existing lines.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cart_ops import (
    CSRF_META,
    MINIMAL,
    USER_AGENT,
    Keys,
    _load,
    dispose,
    new_shop,
    percentile,
    print_machine,
    timed,
)

LINK = re.compile(r'value="https?://[^"/]+(/share/[A-Za-z0-9_-]+)"')
PASSWORD = "correct horse battery staple"


class Account:
    def __init__(self, app, timer, email: str):
        self.client, self.timer, self.csrf = app.test_client(), timer, ""
        self.page("/")
        self.post("/register", {"email": email, "password": PASSWORD})
        self.page("/")

    def page(self, path: str):
        response = self.client.get(path, headers={"User-Agent": USER_AGENT})
        found = CSRF_META.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None):
        return self.client.post(
            path, data={"csrf_token": self.csrf, **(data or {})}, headers={"User-Agent": USER_AGENT}
        )

    def add(self, sku: str) -> tuple[int, int]:
        response = self.client.post(
            "/api/v1/cart/lines",
            json={"sku": sku, "quantity": 1},
            headers={"User-Agent": USER_AGENT, "X-CSRF-Token": self.csrf, **MINIMAL},
        )
        if response.status_code != 200:
            raise SystemExit(f"add: HTTP {response.status_code} {response.get_data()[:200]}")
        return self.timer.last_ns, self.timer.last_cpu_ns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adds", type=int, default=1000, help="adds per account (1000)")
    args = parser.parse_args(argv)
    print_machine()
    directory = Path(tempfile.mkdtemp(prefix="storefront-bench-sharing-"))
    try:
        app = new_shop(directory / "shop.sqlite", Keys.new())
        timer = timed(app)
        alone = Account(app, timer, "alone@example.com")
        owner = Account(app, timer, "owner@example.com")
        member = Account(app, timer, "member@example.com")
        for account in (alone, owner, member):
            account.add("DEMO-0100")  # each account has its own cart to begin with
        owner.page("/cart")
        link = LINK.search(owner.post("/cart/share").get_data(as_text=True)).group(1)
        member.page(link)
        if member.post(link).status_code != 302:
            raise SystemExit("the member could not accept the invitation")
        samples: dict[str, list[tuple[int, int]]] = {"alone": [], "owner": [], "member": []}
        for n in range(args.adds):
            sku = f"DEMO-{100 + n % 100:04d}"
            for name, account in (("alone", alone), ("owner", owner), ("member", member)):
                samples[name].append(account.add(sku))
        dispose(app)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(f"  load average at end: {_load()}")
    base = percentile([w for w, _ in samples["alone"]], 0.5)
    print(f"\n{args.adds} adds per account, interleaved (ms)")
    print("| who adds | p50 | p99 | CPU p50 | p50 / own cart |")
    print("| --- | --- | --- | --- | --- |")
    for name, label in (
        ("alone", "an account with its own cart (baseline)"),
        ("owner", "the owner of a shared cart"),
        ("member", "the member of a shared cart"),
    ):
        wall = [w for w, _ in samples[name]]
        cpu = [c for _, c in samples[name]]
        p50 = percentile(wall, 0.5)
        print(
            f"| {label} | {p50:.2f} | {percentile(wall, 0.99):.2f} | "
            f"{percentile(cpu, 0.5):.2f} | {p50 / base:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
