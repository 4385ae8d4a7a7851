"""Write docs/schemas/*.schema.json: the JSON Schemas of the records, the policy and a plan's to_dict().

    python docs/gen_schemas.py            # rewrite docs/schemas/
    python docs/gen_schemas.py --check    # exit 1 when a file there is out of date

The schemas come from the models of the package
(:mod:`baohu_assign.results.schemas`), the same text ``baohu-assign schema
NAME`` prints. ``make docs`` runs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "schemas"


def render() -> dict[str, str]:
    """File name → text of every schema file."""
    from baohu_assign.results.schemas import SCHEMA_NAMES, schema_text

    return {f"{name}.schema.json": schema_text(name) for name in SCHEMA_NAMES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a schema file is out of date")
    args = parser.parse_args(argv)
    files = render()
    stale = sorted(
        name
        for name, text in files.items()
        if not (TARGET / name).is_file() or (TARGET / name).read_text(encoding="utf-8") != text
    )
    extra = sorted(p.name for p in TARGET.glob("*.schema.json") if p.name not in files) if TARGET.is_dir() else []
    if args.check:
        if stale or extra:
            print(f"{TARGET} is out of date ({', '.join(stale + extra)}): run `make docs`", file=sys.stderr)
            return 1
        return 0
    TARGET.mkdir(exist_ok=True)
    for name in stale:
        (TARGET / name).write_text(files[name], encoding="utf-8")
    for name in extra:
        (TARGET / name).unlink()
    print(f"{TARGET}: {len(stale)} written, {len(extra)} removed, {len(files) - len(stale)} up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
