"""A test client that behaves like one browser: cookies, CSRF token, JSON API calls."""

from __future__ import annotations

import re

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36"
)


class Browser:
    def __init__(self, client, user_agent: str = DESKTOP_CHROME):
        self.client = client
        self.user_agent = user_agent
        self.csrf = ""

    def headers(self, extra: dict | None = None) -> dict:
        return {"User-Agent": self.user_agent, "X-CSRF-Token": self.csrf, **(extra or {})}

    def page(self, path: str = "/", **kwargs):
        response = self.client.get(path, headers={"User-Agent": self.user_agent}, **kwargs)
        found = CSRF_META.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def ensure_csrf(self) -> None:
        if not self.csrf:
            self.page("/")

    def form(
        self, path: str, data: dict | None = None, *, htmx: bool = False, headers=None, **kwargs
    ):
        self.ensure_csrf()
        headers = {
            "User-Agent": self.user_agent,
            **({"HX-Request": "true"} if htmx else {}),
            **(headers or {}),
        }
        return self.client.post(
            path, data={"csrf_token": self.csrf, **(data or {})}, headers=headers, **kwargs
        )

    def api(self, method: str, path: str, json=None, headers: dict | None = None, **kwargs):
        self.ensure_csrf()
        return self.client.open(
            "/api/v1" + path, method=method, json=json, headers=self.headers(headers), **kwargs
        )

    def cart(self) -> dict:
        response = self.api("GET", "/cart")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json

    def add(self, sku: str, quantity: int = 1, options: dict | None = None, **headers):
        body = {"sku": sku, "quantity": quantity}
        if options is not None:
            body["options"] = options
        return self.api("POST", "/cart/lines", json=body, headers=headers)

    def line_id(self, sku: str) -> str:
        return next(line["id"] for line in self.cart()["lines"] if line["sku"] == sku)

    def register(self, email: str, password: str = "correct horse battery"):
        self.ensure_csrf()
        response = self.form("/register", {"email": email, "password": password})
        self.page("/")
        return response

    def login(self, email: str, password: str = "correct horse battery"):
        self.ensure_csrf()
        response = self.form("/login", {"email": email, "password": password})
        self.page("/")
        return response

    def logout(self):
        response = self.form("/logout")
        self.page("/")
        return response
