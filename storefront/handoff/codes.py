"""Handoff codes: six characters a shopper can read off one screen and type on another.

The alphabet leaves out what people misread (0/O, 1/I/L): 31 symbols, so 31**6, about 887
million codes (29.7 bits). A code lives ten minutes and is used once; redemptions are rate
limited per address and per shopper, so guessing any live code is hopeless (SECURITY.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from flask import current_app

from storefront.errors import BadRequest

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 6
# What a shopper may type around a code: spaces and hyphens are ignored, case does not matter.
_SEPARATORS = re.compile(r"[\s-]+")
_CODE = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")
# Anything longer than this is not a code typed with a few spaces: refused before any work.
MAX_TYPED = 32


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: object) -> str:
    """The code a shopper typed, as issued; BadRequest if it cannot be one."""
    if not isinstance(typed, str) or len(typed) > MAX_TYPED:
        raise BadRequest(f"A handoff code is {LENGTH} letters and digits, like K7MX2Q.")
    code = _SEPARATORS.sub("", typed).upper()
    if not _CODE.fullmatch(code):
        raise BadRequest(
            f"A handoff code is {LENGTH} letters and digits, like K7MX2Q "
            "(no 0, O, 1, I or L: they are never used)."
        )
    return code


def code_hash(code: str) -> bytes:
    """Keyed, so the table alone does not let anyone try the 887 million codes offline."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"handoff|" + code.encode(), hashlib.sha256).digest()
