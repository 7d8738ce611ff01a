"""Where composed emails go: an SMTP server, or, when none is configured, ``.eml`` files in the
instance folder (so the embedded default needs no set-up and a shop owner can open them)."""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 15
# Refusals that say the shop's own SMTP settings are wrong (authentication required, too weak,
# credentials invalid, encryption required), not that this message is: every message would be
# refused alike until the operator mends the settings, so they wait for that, not fail.
SETTINGS_REFUSED = frozenset({530, 534, 535, 538})


class TransportError(Exception):
    """Not sent; try again later. ``permanent``: the server refused the message itself."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class FileTransport:
    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        name = message["Message-ID"].strip("<>").split("@")[0] + ".eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Written whole then renamed: a reader never sees half a message.
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".part")
            with os.fdopen(handle, "wb") as out:
                out.write(bytes(message))
            os.replace(temporary, self.directory / name)
        except OSError as exc:  # a full disk or a folder it may not write: try again later
            raise TransportError(f"{type(exc).__name__}: {exc.strerror}") from None
        log.info(
            "mail written to %s",
            self.directory / name,
            extra={"recipient_domain": _domain(message)},
        )


class SmtpTransport:
    """``smtp://user:pass@host:port`` (STARTTLS when the server offers it) or ``smtps://``."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("STOREFRONT_SMTP_URL must look like smtp://user:pass@host:port")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.tls_context = ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if not self.implicit_tls:
                    smtp.ehlo()
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=self.tls_context)
                        smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            # A 4xx refusal of a recipient (greylisting, a full mailbox) is "try later".
            codes = [code for code, _ in exc.recipients.values()]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            raise TransportError(_describe(exc), permanent=permanent) from None
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code not in SETTINGS_REFUSED
            raise TransportError(_describe(exc), permanent=permanent) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(_describe(exc)) from None

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=SMTP_TIMEOUT, context=self.tls_context
            )
        return smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)


def for_config(config) -> FileTransport | SmtpTransport:
    if config["SMTP_URL"]:
        return SmtpTransport(config["SMTP_URL"])
    return FileTransport(Path(config["MAIL_DIR"]))


ADDRESS = re.compile(r"\S+@\S+")


def _describe(exc: Exception) -> str:
    # Never the message, a password or an address: the class and what the server said.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "SMTPRecipientsRefused: the server refused the recipient"
    return ADDRESS.sub("<address>", f"{type(exc).__name__}: {exc}")[:300]


def _domain(message: EmailMessage) -> str:
    return str(message["To"] or "").rpartition("@")[2].strip(">")
