"""One rule for an email address the shop accepts: what it can also send mail to.

Registration, checkout, the settings and the composer all ask this one function, so an address
that was accepted can always be written into a message's To header.
"""

from __future__ import annotations

import re
from email.headerregistry import Address

# ASCII only (no SMTPUTF8 needed), a dot-atom local part, a hostname with a dot.
LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
SENDABLE = re.compile(rf"^{LOCAL}@{LABEL}(?:\.{LABEL})+$")
# The shop's own From may be a machine's, as the default ``shop@localhost`` is.
SENDABLE_LOCAL = re.compile(rf"^{LOCAL}@{LABEL}(?:\.{LABEL})*$")


def is_sendable(address: object, *, dotless_domain: bool = False) -> bool:
    if not isinstance(address, str) or len(address) > 254:
        return False
    local, _, _ = address.rpartition("@")
    pattern = SENDABLE_LOCAL if dotless_domain else SENDABLE
    if not pattern.match(address) or len(local) > 64:
        return False
    try:
        Address(addr_spec=address)
    except Exception:
        return False
    return True
