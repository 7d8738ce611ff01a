"""Settings from STOREFRONT_* variables, validated once at start-up.

On the embedded SQLite default the secret and encryption keys are generated once and kept in
the instance folder, so a shop runs with zero configuration. Anywhere else they must be given:
instances behind a load balancer have to share them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from storefront.mail.address import is_sendable

MAX_BODY_BYTES = 64 * 1024


class ConfigError(RuntimeError):
    """Start-up refuses to continue; the message names the variable and what is wrong."""


@dataclass(frozen=True)
class IntSetting:
    name: str
    default: int
    low: int
    high: int

    def read(self, env: Mapping[str, str]) -> int:
        raw = env.get(self.name)
        if raw is None or raw.strip() == "":
            return self.default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(
                f"{self.name} must be a whole number from {self.low} to {self.high}, got {raw!r}"
            ) from None
        if not self.low <= value <= self.high:
            raise ConfigError(f"{self.name} must be from {self.low} to {self.high}, got {value}")
        return value


INT_SETTINGS = (
    IntSetting("STOREFRONT_PROXY_HOPS", 0, 0, 10),
    IntSetting("STOREFRONT_SESSION_TIMEOUT_MINUTES", 30, 15, 120),
    IntSetting("STOREFRONT_GUEST_CART_DAYS", 7, 1, 90),
    IntSetting("STOREFRONT_HISTORY_DAYS", 30, 1, 365),
    IntSetting("STOREFRONT_MAX_LINES", 2000, 1, 10_000),
    IntSetting("STOREFRONT_MAX_LINE_QUANTITY", 999, 1, 1_000_000),
    IntSetting("STOREFRONT_STOCK_HOLD_MINUTES", 15, 5, 120),
    IntSetting("STOREFRONT_MANUAL_PAYMENT_DAYS", 7, 1, 60),
    IntSetting("STOREFRONT_ABANDONED_CART_MINUTES", 600, 1, 10_080),
    # The back office calls a product's stock low at or below this.
    IntSetting("STOREFRONT_LOW_STOCK", 5, 0, 1_000_000),
    IntSetting("STOREFRONT_ANALYTICS_DAYS", 395, 30, 3_650),
    # A cart change slower than this is logged with its timings (storefront/metrics.py).
    IntSetting("STOREFRONT_SLOW_CART_MS", 250, 1, 60_000),
    # Database connections one worker process keeps open (database.pool_options says why).
    IntSetting("STOREFRONT_DATABASE_POOL_SIZE", 15, 1, 1_000),
)
PAYMENT_PROVIDERS = ("manual", "test", "stripe")
DEFAULT_MANUAL_INSTRUCTIONS = (
    "We will send you our bank details by email. Your order is kept for you until the "
    "payment arrives."
)


def parse_keys(raw: str, name: str = "STOREFRONT_ENCRYPTION_KEYS") -> list[bytes]:
    keys = []
    for position, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            key = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            raise ConfigError(f"{name}: key {position + 1} is not urlsafe base64") from None
        if len(key) != 32:
            raise ConfigError(f"{name}: key {position + 1} must be 32 bytes, it is {len(key)}")
        keys.append(key)
    if not keys:
        raise ConfigError(f"{name} is set but holds no key")
    return keys


def new_key_text() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def read_or_create_once(path: Path, make: callable) -> str:
    """Return the file's text, creating it atomically first if it does not exist.

    The value is written to a temporary file and hard-linked into place, which fails if another
    process won the race; then everyone reads the winner's value. It is never overwritten.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def for_app(overrides: Mapping[str, object], instance_path: str) -> dict:
    """The app's whole config: the environment (``STOREFRONT_*`` overrides win), then Flask's
    and the extensions' fixed settings, then any other override (tests' Flask keys)."""
    shop = {k: str(v) for k, v in overrides.items() if k.startswith("STOREFRONT_")}
    settings = load({**os.environ, **shop}, instance_path)
    return {
        **settings,
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        # The cookie lives as long as the guest cart it names.
        "PERMANENT_SESSION_LIFETIME": settings["GUEST_CART_LIFETIME"],
        "SESSION_COOKIE_NAME": "storefront",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # A server's connections can drop: database.py pings one that sat idle before it
            # is used (SQLAlchemy's pool_pre_ping pinged on every checkout, two round trips a
            # cart change on PostgreSQL). A SQLite file's cannot.
            "pool_pre_ping": False,
            # Database errors reach the logs: they must not carry the statement's values.
            "hide_parameters": True,
        },
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_HEADERS": ["X-CSRF-Token", "X-CSRFToken"],
        **{k: v for k, v in overrides.items() if not k.startswith("STOREFRONT_")},
    }


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{name} must be in flask-limiter syntax, like '30/second;1000/minute', got {value!r}"
        ) from None
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _selling(env: Mapping[str, str]) -> dict:
    """Currency, locale, payment providers and the checkout's other settings."""
    from babel import Locale, UnknownLocaleError
    from babel.numbers import get_currency_name

    currency = env.get("STOREFRONT_CURRENCY", "").strip().upper() or "USD"
    locale = env.get("STOREFRONT_LOCALE", "").strip() or "en_US"
    try:
        Locale.parse(locale)
    except (ValueError, UnknownLocaleError):
        raise ConfigError(
            f"STOREFRONT_LOCALE must be a locale like en_US, got {locale!r}"
        ) from None
    if len(currency) != 3 or get_currency_name(currency, locale=locale) == currency:
        raise ConfigError(f"STOREFRONT_CURRENCY must be an ISO 4217 code, got {currency!r}")
    names = [p.strip().lower() for p in env.get("STOREFRONT_PAYMENT_PROVIDERS", "").split(",")]
    providers = tuple(dict.fromkeys(p for p in names if p)) or ("manual",)
    unknown = [p for p in providers if p not in PAYMENT_PROVIDERS]
    if unknown:
        raise ConfigError(
            f"STOREFRONT_PAYMENT_PROVIDERS: unknown provider(s) {', '.join(unknown)}; "
            f"choose from {', '.join(PAYMENT_PROVIDERS)}"
        )
    stripe = {
        "STRIPE_SECRET_KEY": env.get("STOREFRONT_STRIPE_SECRET_KEY", "").strip(),
        "STRIPE_WEBHOOK_SECRET": env.get("STOREFRONT_STRIPE_WEBHOOK_SECRET", "").strip(),
    }
    if "stripe" in providers:
        missing = [f"STOREFRONT_{k}" for k, v in stripe.items() if not v]
        if missing:
            raise ConfigError(f"the stripe payment provider needs {' and '.join(missing)}")
    return {
        "CURRENCY": currency,
        "LOCALE": locale,
        "PRICES_INCLUDE_TAX": _flag(env, "STOREFRONT_PRICES_INCLUDE_TAX"),
        "PAYMENT_PROVIDERS": providers,
        **stripe,
        "PUBLIC_URL": (
            env.get("STOREFRONT_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000"
        ).rstrip("/"),
        "SHOP_NAME": env.get("STOREFRONT_SHOP_NAME", "").strip() or "Storefront",
        "MANUAL_PAYMENT_INSTRUCTIONS": (
            env.get("STOREFRONT_MANUAL_PAYMENT_INSTRUCTIONS", "").strip()
            or DEFAULT_MANUAL_INSTRUCTIONS
        ),
        "WEB_JOBS": env.get("STOREFRONT_WEB_JOBS", "").strip().lower() not in ("false", "0", "no"),
        "CHECKOUT_RATE_LIMIT": _rate_limit(env, "STOREFRONT_CHECKOUT_RATE_LIMIT", "10/minute"),
        **_mail(env),
    }


def _mail(env: Mapping[str, str]) -> dict:
    smtp_url = env.get("STOREFRONT_SMTP_URL", "").strip()
    if smtp_url and not re.match(r"^smtps?://[^/\s]+$", smtp_url):
        raise ConfigError(
            "STOREFRONT_SMTP_URL must be smtp://user:pass@host:port or smtps://user:pass@host:port"
        )
    addresses = {}
    for name, default in (("MAIL_FROM", "shop@localhost"), ("OWNER_EMAIL", "")):
        value = env.get(f"STOREFRONT_{name}", "").strip() or default
        if value and not is_sendable(value, dotless_domain=name == "MAIL_FROM"):
            raise ConfigError(f"STOREFRONT_{name} must be one plain email address, got {value!r}")
        addresses[name] = value
    return {"SMTP_URL": smtp_url, **addresses}


def _time_zone(env: Mapping[str, str]) -> str:
    """The IANA zone analytics count days in, checked against the zone database now."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = env.get("STOREFRONT_TIME_ZONE", "").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"STOREFRONT_TIME_ZONE must be an IANA zone like Europe/Berlin, got {name!r}"
        ) from None
    return name


def _media_dir(env: Mapping[str, str], instance: Path) -> str:
    """Where product images are kept: a relative path is taken from the working directory,
    as a shell would, and made absolute once so every request agrees."""
    raw = env.get("STOREFRONT_MEDIA_DIR", "").strip()
    return str(Path(raw).expanduser().absolute() if raw else instance / "media")


def load(env: Mapping[str, str], instance_path: str) -> dict:
    """Build the Flask config mapping from the environment."""
    instance = Path(instance_path)
    ints = {s.name.removeprefix("STOREFRONT_"): s.read(env) for s in INT_SETTINGS}
    database_url = env.get("STOREFRONT_DATABASE_URL", "").strip()
    embedded = not database_url
    if embedded:
        database_url = f"sqlite:///{instance / 'storefront.db'}"

    secret = env.get("STOREFRONT_SECRET_KEY", "").strip()
    keys_raw = env.get("STOREFRONT_ENCRYPTION_KEYS", "").strip()
    if not embedded:
        missing = [
            n
            for n, v in (
                ("STOREFRONT_SECRET_KEY", secret),
                ("STOREFRONT_ENCRYPTION_KEYS", keys_raw),
            )
            if not v
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} must be set when STOREFRONT_DATABASE_URL is set: "
                "every instance has to share them (see README, 'Keys')"
            )
    # Where the secrets live decides what `restore` may do with a backup's copy of them.
    secrets_in_instance = not secret and not keys_raw
    if not secret:
        secret = read_or_create_once(instance / "secret_key", lambda: secrets.token_urlsafe(48))
    if not keys_raw:
        keys_raw = read_or_create_once(instance / "encryption_keys", new_key_text)

    redis_url = env.get("STOREFRONT_REDIS_URL", "").strip() or None
    rate_limit = _rate_limit(env, "STOREFRONT_CART_RATE_LIMIT", "30/second;1000/minute")
    return {
        **_selling(env),
        "SECRET_KEY": secret,
        "ENCRYPTION_KEYS": parse_keys(keys_raw),
        "SECRETS_IN_INSTANCE": secrets_in_instance,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "EMBEDDED_DATABASE": embedded,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": env.get("STOREFRONT_REDIS_PREFIX", "").strip() or "storefront",
        "CART_RATE_LIMIT": rate_limit,
        "MEDIA_DIR": _media_dir(env, instance),
        "TIME_ZONE": _time_zone(env),
        # Unset: /metrics answers loopback addresses only.
        "METRICS_TOKEN": env.get("STOREFRONT_METRICS_TOKEN", "").strip() or None,
        **ints,
        # The windows as durations, computed here once; cart.lifetime and accounts read them.
        "GUEST_CART_LIFETIME": timedelta(days=ints["GUEST_CART_DAYS"]),
        "HISTORY_WINDOW": timedelta(days=ints["HISTORY_DAYS"]),
        "SESSION_TIMEOUT": timedelta(minutes=ints["SESSION_TIMEOUT_MINUTES"]),
        "STOCK_HOLD": timedelta(minutes=ints["STOCK_HOLD_MINUTES"]),
        "MANUAL_PAYMENT_WINDOW": timedelta(days=ints["MANUAL_PAYMENT_DAYS"]),
        "ABANDONED_CART_AFTER": timedelta(minutes=ints["ABANDONED_CART_MINUTES"]),
        "MAIL_DIR": str(instance / "mail"),
    }
