"""The demo catalog: 1,500 products, DEMO-0001 to DEMO-1500, the same on every run."""

from __future__ import annotations

from storefront.catalog.options import OptionSpec, specs_to_json
from storefront.catalog.services import ImportReport, upsert

COLOURS = (
    "Blue",
    "Red",
    "Green",
    "Amber",
    "Slate",
    "Ivory",
    "Teal",
    "Coral",
    "Olive",
    "Plum",
    "Sand",
    "Navy",
    "Rose",
    "Mint",
    "Ochre",
    "Charcoal",
    "Lilac",
    "Rust",
    "Sky",
    "Moss",
    "Pearl",
    "Copper",
    "Indigo",
    "Saffron",
    "Walnut",
    "Lemon",
    "Cherry",
    "Stone",
    "Cobalt",
    "Honey",
)
THINGS = (
    "Mug",
    "T-Shirt",
    "Notebook",
    "Tote Bag",
    "Water Bottle",
    "Scarf",
    "Candle",
    "Poster",
    "Pen",
    "Cap",
    "Socks",
    "Apron",
    "Bowl",
    "Plate",
    "Teapot",
    "Lamp",
    "Cushion",
    "Blanket",
    "Umbrella",
    "Wallet",
    "Keyring",
    "Backpack",
    "Vase",
    "Planter",
    "Coaster",
    "Towel",
    "Journal",
    "Hoodie",
    "Beanie",
    "Glove",
    "Mitten",
    "Kite",
    "Puzzle",
    "Yo-Yo",
    "Frame",
    "Clock",
    "Bookmark",
    "Sticker Set",
    "Pin Badge",
    "Pouch",
    "Jar",
    "Tray",
    "Spoon",
    "Cup",
    "Doormat",
    "Rug",
    "Basket",
    "Box",
    "Tin",
    "Card Set",
)
SIZE = (OptionSpec("size", True, choices=("S", "M", "L", "XL")),)
ENGRAVING = (OptionSpec("engraving", False, max_length=40),)
COUNT = 1500


def demo_rows() -> list[dict]:
    rows = []
    for n in range(1, COUNT + 1):
        colour = COLOURS[(n - 1) % len(COLOURS)]
        thing = THINGS[(n - 1) // len(COLOURS) % len(THINGS)]
        specs = SIZE if n <= 10 else ENGRAVING if n <= 20 else ()
        rows.append(
            {
                "sku": f"DEMO-{n:04d}",
                "name": f"{colour} {thing}",
                "description": f"A {colour.lower()} {thing.lower()} from the demo catalog.",
                "price_cents": 199 + (n * 379) % 9800,
                "stock": 3 if n == COUNT else 10_000 + (n * 7) % 5000,
                "active": True,
                "options_json": specs_to_json(specs),
            }
        )
    return rows


def load_demo() -> ImportReport:
    """Add the demo products that are missing; products already there are left as they are."""
    report = ImportReport()
    upsert(demo_rows(), report, overwrite=False)
    return report
