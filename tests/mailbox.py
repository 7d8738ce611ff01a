"""A real SMTP server on loopback (aiosmtpd) that keeps what it is sent, and can be stopped and
started again on the same port (the shop's SMTP server going down and coming back)."""

from __future__ import annotations

import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.ports import free_port


class Mailbox:
    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        tls: str | None = None,
        certificate: tuple[Path, Path] | None = None,
    ):
        """``tls``: None (plain), "starttls" (required before anything else) or "implicit"
        (TLS from the first byte, ``smtps://``), with ``certificate`` (cert and key files)."""
        self.port = free_port()
        self.username, self.password = username, password
        self.tls, self.certificate = tls, certificate
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        auth = f"{quote(self.username)}:{quote(self.password or '')}@" if self.username else ""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.received.append(message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        # Not "handled": aiosmtpd then answers a refusal with 535 itself (handled, it answers
        # nothing, and the client waits out its timeout).
        return AuthResult(success=ok, handled=False)

    def start(self) -> Mailbox:
        options = {}
        if self.username:
            # With implicit TLS aiosmtpd does not know the connection is encrypted: it would
            # refuse AUTH if told to require TLS for it.
            options = {
                "authenticator": self._authenticate,
                "auth_require_tls": self.tls == "starttls",
            }
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self.certificate))
            if self.tls == "starttls":
                options.update(tls_context=context, require_starttls=True)
            else:
                options.update(ssl_context=context)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and the HTML part."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html
