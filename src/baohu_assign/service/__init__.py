"""``baohu-assign serve``: the library as an HTTP job service, for callers in any language.

Solves are jobs: submitted (``POST /plans``, 202 and an id), polled
(``GET /plans/{id}``), cancelled (``DELETE``), with events and
recommendations on a finished plan. :mod:`~baohu_assign.service.app` is the
web side (FastAPI, run by uvicorn), :mod:`~baohu_assign.service.store` the
SQLite job store under the data folder, :mod:`~baohu_assign.service.jobs`
what the worker processes run. The web framework is the optional extra
``serve`` (``pip install 'baohu-assign[serve]'``); nothing outside
:mod:`~baohu_assign.service.app` imports it.
"""

SERVE_MODULES = ("fastapi", "uvicorn", "python_multipart")
"""What ``baohu-assign serve`` needs (the ``serve`` extra), by import name."""
INSTALL_HINT = "pip install 'baohu-assign[serve]'"
"""How to get them."""


def missing_modules() -> list[str]:
    """The modules of :data:`SERVE_MODULES` that cannot be imported here (without importing them)."""
    from importlib.util import find_spec

    return [name for name in SERVE_MODULES if find_spec(name) is None]
