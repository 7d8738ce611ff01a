"""Short device labels ("Firefox on Android") from a User-Agent, stored as a one-byte code.

A revision records which device made it; a small integer keeps history rows compact and holds
nothing that identifies the shopper.
"""

from __future__ import annotations

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)
BROWSER_NAMES = ("", *dict.fromkeys(name for _, name in BROWSERS))
SYSTEM_NAMES = ("", *dict.fromkeys(name for _, name in SYSTEMS))
API_CLIENT = 255
SUPPORT = 254


def code_for(user_agent: str | None) -> int:
    ua = user_agent or ""
    browser = next((name for marker, name in BROWSERS if marker in ua), "")
    system = next((name for marker, name in SYSTEMS if marker in ua), "")
    if not browser and not system:
        return API_CLIENT
    return BROWSER_NAMES.index(browser) * 16 + SYSTEM_NAMES.index(system)


def label(code: int) -> str:
    if code == API_CLIENT:
        return "an app or script"
    if code == SUPPORT:
        return "customer support"
    browser_index, system_index = divmod(code, 16)
    browser = BROWSER_NAMES[browser_index] if browser_index < len(BROWSER_NAMES) else ""
    system = SYSTEM_NAMES[system_index] if system_index < len(SYSTEM_NAMES) else ""
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"a browser on {system}" if system else "a browser")
