"""``python -m baohu_assign`` behaves like ``baohu-assign``."""

from .cli import main

raise SystemExit(main())
