"""An uploaded image, checked and turned into the renditions the pages serve. Pure: bytes in,
bytes out, no Flask and no database, so every refusal is testable on its own.

What is checked, and why in this order: the size before anything is read into Pillow; the
type from the bytes (Pillow's own parsers for JPEG, PNG and WebP only, never the file name or
the Content-Type a browser claims); the pixel count from the header, before the pixels are
decoded, so an image bomb (a tiny file that inflates to gigabytes) costs nothing.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP")
# Rendition widths; an image narrower than one is kept at its own width, never upscaled.
WIDTHS = (320, 640, 1280)
WEBP_QUALITY = 82


class ImageRefused(ValueError):
    """The upload is not acceptable; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    data: bytes
    extension: str = "webp"


@dataclass(frozen=True)
class Processed:
    digest: str  # names the files: the same picture always has the same names
    width: int  # of the oriented original
    height: int
    renditions: tuple[Rendition, ...]  # WebP, one per width, for the pages
    # A JPEG of the largest width, for link previews: some apps that read Open Graph tags
    # still show no WebP.
    share: Rendition


def check_file_name(name: str | None) -> None:
    """The name is never used, but a name with a folder in it is a client trying something."""
    if not name:
        raise ImageRefused("Choose an image file to upload.")
    if "/" in name or "\\" in name or ".." in name or "\x00" in name:
        raise ImageRefused("The file name must not contain a folder path: upload the file itself.")


def target_widths(width: int) -> tuple[int, ...]:
    return tuple(sorted({min(w, width) for w in WIDTHS}))


def process(data: bytes) -> Processed:
    """Check ``data`` and make its WebP renditions, or raise ImageRefused."""
    if len(data) > MAX_BYTES:
        raise ImageRefused(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise ImageRefused("The file is empty.")
    image = _open(data)
    try:
        image.seek(0)  # an animated image: its first frame
        image.load()
        image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise _bomb() from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ImageRefused("The image is damaged or incomplete.") from None
    image = _without_palette(image)
    icc_profile = image.info.get("icc_profile")
    sized = [_resized(image, width) for width in target_widths(image.width)]
    return Processed(
        digest=hashlib.sha256(data).hexdigest()[:32],
        width=image.width,
        height=image.height,
        renditions=tuple(_webp(each, icc_profile) for each in sized),
        share=_jpeg(sized[-1], icc_profile),
    )


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise _bomb() from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise ImageRefused(
            "The file is not a JPEG, PNG or WebP image (SVG and other types are not accepted)."
        ) from None
    # The header's size, read before any pixel is decoded.
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise _bomb()
    return image


def _bomb() -> ImageRefused:
    return ImageRefused(
        f"The image has too many pixels (the limit is {MAX_PIXELS // 1_000_000} megapixels)."
    )


def _without_palette(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the picture has transparency: what WebP holds (CMYK JPEGs, 16-bit and
    palette PNGs converted once here)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    wanted = "RGBA" if has_alpha else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def _resized(image: Image.Image, width: int) -> Image.Image:
    height = max(1, round(image.height * width / image.width))
    return image if width == image.width else image.resize((width, height), Image.LANCZOS)


def _webp(image: Image.Image, icc_profile: bytes | None) -> Rendition:
    out = io.BytesIO()
    # Saved without exif or XMP: the camera, the time and the place the photo was taken stay
    # with the shop owner. The colour profile is kept so colours look as they were shot.
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=4, icc_profile=icc_profile)
    return Rendition(image.width, image.height, out.getvalue())


def _jpeg(image: Image.Image, icc_profile: bytes | None) -> Rendition:
    if image.mode == "RGBA":  # JPEG has no transparency: on white, as a page would show it
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True, icc_profile=icc_profile)
    return Rendition(image.width, image.height, out.getvalue(), "jpg")
