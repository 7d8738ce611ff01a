"""Product options: the CSV notation, and checking a shopper's choices against a product.

Notation (the CSV ``options`` column), options separated by ``;``:

- ``size:S|M|L|XL!``   a choice among values; ``!`` makes it required
- ``engraving:text(40)``   free text of at most 40 characters; ``!`` makes it required

Names are lower-case letters, digits and ``_``, starting with a letter, at most 32 long.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
TEXT = re.compile(r"^text\((\d{1,4})\)$")
MAX_CHOICE_LENGTH = 64


class OptionSpecError(ValueError):
    pass


class InvalidOptionError(ValueError):
    """The shopper's options do not fit the product."""


@dataclass(frozen=True)
class OptionSpec:
    name: str
    required: bool
    choices: tuple[str, ...] = ()
    max_length: int = 0  # > 0 for free text

    @property
    def is_text(self) -> bool:
        return self.max_length > 0

    def to_json(self) -> dict:
        if self.is_text:
            return {"name": self.name, "required": self.required, "max_length": self.max_length}
        return {"name": self.name, "required": self.required, "choices": list(self.choices)}


def parse_notation(text: str) -> tuple[OptionSpec, ...]:
    specs: list[OptionSpec] = []
    for part in (p.strip() for p in (text or "").split(";")):
        if not part:
            continue
        name, sep, rest = part.partition(":")
        name, rest = name.strip(), rest.strip()
        if not sep or not NAME.match(name):
            raise OptionSpecError(f"option {part!r}: expected name:values, name a-z0-9_")
        required = rest.endswith("!")
        rest = rest.removesuffix("!").strip()
        if any(s.name == name for s in specs):
            raise OptionSpecError(f"option {name!r} is declared twice")
        text_match = TEXT.match(rest)
        if text_match:
            limit = int(text_match.group(1))
            if not 1 <= limit <= 1000:
                raise OptionSpecError(f"option {name!r}: text limit must be 1 to 1000")
            specs.append(OptionSpec(name, required, max_length=limit))
            continue
        choices = tuple(c.strip() for c in rest.split("|"))
        if not rest or any(not c or len(c) > MAX_CHOICE_LENGTH for c in choices):
            raise OptionSpecError(f"option {name!r}: choices must be non-empty, split by |")
        if len(set(choices)) != len(choices):
            raise OptionSpecError(f"option {name!r}: a choice is listed twice")
        specs.append(OptionSpec(name, required, choices=choices))
    return tuple(specs)


def to_notation(specs: tuple[OptionSpec, ...]) -> str:
    parts = []
    for s in specs:
        body = f"text({s.max_length})" if s.is_text else "|".join(s.choices)
        parts.append(f"{s.name}:{body}{'!' if s.required else ''}")
    return ";".join(parts)


def specs_to_json(specs: tuple[OptionSpec, ...]) -> str:
    return json.dumps([s.to_json() for s in specs], separators=(",", ":"))


def specs_from_json(raw: str) -> tuple[OptionSpec, ...]:
    return tuple(
        OptionSpec(d["name"], d["required"], tuple(d.get("choices", ())), d.get("max_length", 0))
        for d in json.loads(raw or "[]")
    )


def check_shape(given: object) -> None:
    """Options in the shape every product takes them (an object of option names to text), or
    InvalidOptionError: malformed input is refused before the product, or the cart, is read
    (a stale If-Match must not be all a malformed request is told)."""
    if not isinstance(given, dict):
        raise InvalidOptionError("options must be an object of option names to text values")
    for name, value in given.items():
        if not isinstance(value, str):
            raise InvalidOptionError(f"Option {_shown(name)} must be text.")


def _shown(name: object) -> str:
    # A name is the shopper's input: quoted when short, not echoed at any length.
    return repr(name) if isinstance(name, str) and len(name) <= 40 else "that option"


def normalise(specs: tuple[OptionSpec, ...], given: dict) -> dict[str, str]:
    """Check the shopper's options and return them normalised, or raise InvalidOptionError.

    Choices must match exactly. Free text is NFC-normalised and trimmed; empty text means the
    option is absent.
    """
    if not isinstance(given, dict):
        raise InvalidOptionError("options must be an object of option names to text values")
    by_name = {s.name: s for s in specs}
    result: dict[str, str] = {}
    for name, value in given.items():
        spec = by_name.get(name)
        if spec is None:
            allowed = ", ".join(by_name) or "none"
            raise InvalidOptionError(
                f"This product has no option {_shown(name)} (options: {allowed})."
            )
        if not isinstance(value, str):
            raise InvalidOptionError(f"Option {_shown(name)} must be text.")
        if spec.is_text:
            value = unicodedata.normalize("NFC", value).strip()
            # Control characters and lone surrogates: nothing a shopper types, and the latter
            # cannot even be stored as UTF-8.
            if not value.isprintable():
                raise InvalidOptionError(
                    f"Option {name!r} contains a character that is not allowed."
                )
            if len(value) > spec.max_length:
                raise InvalidOptionError(
                    f"Option {name!r} is at most {spec.max_length} characters, got {len(value)}."
                )
            if value:
                result[name] = value
        elif value in spec.choices:
            result[name] = value
        else:
            raise InvalidOptionError(f"Option {name!r} must be one of {', '.join(spec.choices)}.")
    for spec in specs:
        if spec.required and spec.name not in result:
            raise InvalidOptionError(f"Please choose {spec.name!r}; it is required.")
    return dict(sorted(result.items()))
