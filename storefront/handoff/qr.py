"""The handoff link as a QR code, drawn by segno as inline SVG: no image file to serve, and
nothing the content security policy has to allow (segno writes attributes, not styles)."""

from __future__ import annotations

import segno
from markupsafe import Markup, escape


def qr_svg(url: str, label: str) -> Markup:
    # Error correction "M" survives a phone camera at an angle; segno raises it when the
    # version has room to spare. Black on white with the quiet zone: what every reader expects.
    code = segno.make(url, error="m", micro=False)
    svg = code.svg_inline(scale=5, svgclass="handoff-qr", lineclass=None, dark="#000", light="#fff")
    named = f'<svg role="img" aria-label="{escape(label)}" data-testid="handoff-qr" '
    return Markup(svg.replace("<svg ", named, 1))
