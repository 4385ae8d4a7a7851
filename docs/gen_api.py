"""Generate docs/api.md from the docstrings of the public API (``baohu_assign.__all__``).

    python docs/gen_api.py            # rewrite docs/api.md
    python docs/gen_api.py --check    # exit 1 when docs/api.md is out of date

Uses only :mod:`inspect`: numpydoc sections become bold headings with
bullet lists, reStructuredText roles become code spans, ``::`` blocks and
examples become fenced code. The output depends only on the code, so it is
the same on every machine and diffs cleanly. ``make docs`` runs it.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET = HERE / "api.md"

# Reading order: what most users call first. Anything else in __all__ follows alphabetically.
ORDER = (
    "Scenario",
    "solve",
    "rebalance",
    "Plan",
    "compare",
    "compare_plans",
    "Comparison",
    "Policy",
    "Report",
    "Status",
    "SolveParams",
    "InputError",
    "Issue",
    "BaohuError",
    "EngineError",
    "ScalingWarning",
    "compile_scenario",
    "Problem",
    "Solution",
    "synth",
)
# Modules outside the top-level namespace that users import by name.
EXTRA_MODULES = (
    ("baohu_assign.outputs.plots", "needs the `plots` extra: `pip install 'baohu-assign[plots]'`"),
    ("baohu_assign.outputs.roster", ""),
    ("baohu_assign.outputs.webmap", ""),
    ("baohu_assign.solving.progress", ""),
    ("baohu_assign.outputs.leaders", ""),
    ("baohu_assign.results.rollup", ""),
    ("baohu_assign.solving.result", ""),
    ("baohu_assign.io.geocode", ""),
    ("baohu_assign.engines.contract", ""),
    ("baohu_assign.engines.stop", ""),
    ("baohu_assign.results.schemas", ""),
)
SECTIONS = {
    "Parameters",
    "Other Parameters",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
    "Attributes",
    "Examples",
    "Notes",
    "See Also",
    "References",
}
LIST_SECTIONS = {"Parameters", "Other Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes"}


# --------------------------------------------------------------------------- docstring → Markdown


def _roles(text: str) -> str:
    """``:func:`~a.b.c``` → ```c```, ``:meth:`X <a.X>``` → ```X```, ````x```` → ```x```."""

    def role(match: re.Match[str]) -> str:
        target = match.group(1)
        if "<" in target:
            target = target.split("<")[0].strip()
        elif target.startswith("~"):
            target = target[1:].rsplit(".", 1)[-1]
        return f"`{target}`"

    text = re.sub(r":[a-z]+:`([^`]+)`", role, text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _docstring(doc: str | None, level: int = 0) -> str:
    """A numpydoc docstring as Markdown."""
    if not doc:
        return ""
    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    section = None
    i = 0
    while i < len(lines):
        line = lines[i]
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() in SECTIONS and underline.strip() and set(underline.strip()) == {"-"}:
            section = line.strip()
            out += ["", f"**{section}**", ""]
            i += 2
            if section == "Examples":
                block, i = _take_block(lines, i)
                out += ["```python", *block, "```"]
            continue
        if section in LIST_SECTIONS and line and not line.startswith(" "):
            description, i = _take_indented(lines, i + 1)
            name, _, kind = line.partition(" : ")
            head = f"- `{name.strip()}`" + (f" ({_roles(kind.strip())})" if kind else "")
            out.append(head + (f": {_roles(' '.join(description))}" if description else ""))
            continue
        if line.rstrip().endswith("::"):
            # A reStructuredText literal block: the indented lines that follow.
            text = line.rstrip()[:-1].rstrip()
            if text and not text.endswith(":"):
                text += ":"
            if text:
                out.append(_roles(text))
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            block, i = _take_indented(lines, i, keep=True)
            out += ["", "```", *block, "```"]
            continue
        out.append(_roles(line))
        i += 1
    return "\n".join(out).strip() + "\n"


def _take_indented(lines: list[str], i: int, keep: bool = False) -> tuple[list[str], int]:
    """The indented (or blank, followed by indented) lines from ``i``."""
    block: list[str] = []
    while i < len(lines):
        line = lines[i]
        if line.strip() and not line.startswith(" "):
            break
        if not line.strip():
            following = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
            if not following.startswith(" "):
                break
        block.append(line)
        i += 1
    if keep:
        indent = min((len(ln) - len(ln.lstrip()) for ln in block if ln.strip()), default=0)
        return [ln[indent:] for ln in block], i
    return [ln.strip() for ln in block if ln.strip()], i


def _take_block(lines: list[str], i: int) -> tuple[list[str], int]:
    """Lines up to the next numpydoc section heading."""
    block: list[str] = []
    while i < len(lines):
        if (
            lines[i].strip() in SECTIONS
            and i + 1 < len(lines)
            and lines[i + 1].strip()
            and set(lines[i + 1].strip()) == {"-"}
        ):
            break
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
    return block, i


# --------------------------------------------------------------------------- signatures


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return ""
    text = value if isinstance(value, str) else inspect.formatannotation(value)
    # baohu_assign.results.report.Status -> Status: the page names every public class once.
    return re.sub(r"\b(?:[a-z_][a-z0-9_]*\.)+([A-Z]\w*)", r"\1", text.replace("typing.", ""))


def _default(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    text = repr(value)
    # Never let a memory address into the page: it would change on every run.
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _signature(name: str, obj: Any) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    parts: list[str] = []
    star_done = False
    for index, param in enumerate(signature.parameters.values()):
        if index == 0 and param.name in ("self", "cls"):
            continue
        if param.kind is inspect.Parameter.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            star_done = True
            prefix = "*"
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            prefix = "**"
        else:
            prefix = ""
        text = prefix + param.name
        annotation = _annotation(param.annotation)
        if annotation:
            text += f": {annotation}"
        if param.default is not inspect.Parameter.empty:
            text += (" = " if annotation else "=") + _default(param.default)
        parts.append(text)
    returns = "" if inspect.isclass(obj) else _annotation(signature.return_annotation)
    one_line = f"{name}({', '.join(parts)})" + (f" -> {returns}" if returns else "")
    if len(one_line) <= 88:
        return one_line
    body = "".join(f"    {p},\n" for p in parts)
    return f"{name}(\n{body})" + (f" -> {returns}" if returns else "")


# --------------------------------------------------------------------------- objects


def _function(name: str, obj: Any, heading: str) -> list[str]:
    return [f"{heading} `{name}`", "", "```python", _signature(name, obj), "```", "", _docstring(obj.__doc__)]


def _class(name: str, cls: type, heading: str) -> list[str]:
    out = [f"{heading} `{name}`", ""]
    if issubclass(cls, enum.Enum):
        out += [_docstring(cls.__doc__), "Members: " + ", ".join(f"`{m.name}` = `{m.value!r}`" for m in cls), ""]
        return out
    if issubclass(cls, BaseException):
        bases = ", ".join(b.__name__ for b in cls.__bases__)
        kind = "Warning" if issubclass(cls, Warning) else "Exception"
        out += [f"*{kind}* (subclass of {bases})", "", _docstring(cls.__doc__)]
        return out
    fields = getattr(cls, "model_fields", None)
    if fields is not None:  # pydantic model: its fields are the API
        out += [_docstring(cls.__doc__), "| field | type | default | meaning |", "|---|---|---|---|"]
        for field_name, field in fields.items():
            default = "required" if field.is_required() else _default(field.get_default(call_default_factory=True))
            kind = _annotation(field.annotation).replace("|", "\\|")
            # Descriptions taken from field docstrings span lines; a table cell holds one.
            text = _roles(" ".join((field.description or "").split())).replace("|", "\\|")
            out.append(f"| `{field_name}` | `{kind}` | `{default}` | {text} |")
        out.append("")
    else:
        out += ["```python", _signature(name, cls), "```", "", _docstring(cls.__doc__)]
    out += _members(name, cls)
    return out


def _members(class_name: str, cls: type) -> list[str]:
    out: list[str] = []
    undocumented: list[str] = []
    fields = set(getattr(cls, "model_fields", {}) or {})
    for attr, value in cls.__dict__.items():
        if attr.startswith("_") or attr in fields:
            continue
        if isinstance(value, (staticmethod, classmethod)):
            function = value.__func__
        elif isinstance(value, property):
            function = value.fget
        elif hasattr(value, "func") and type(value).__name__ == "cached_property":
            function = value.func
        elif inspect.isfunction(value):
            function = value
        else:
            continue
        doc = function.__doc__
        if not doc:
            undocumented.append(attr)
            continue
        is_attribute = isinstance(value, property) or type(value).__name__ == "cached_property"
        title = f"`{class_name}.{attr}`" if is_attribute else f"`{class_name}.{attr}()`"
        out += [f"#### {title}", ""]
        if not is_attribute:
            out += ["```python", _signature(attr, function), "```", ""]
        out += [_docstring(doc)]
    if undocumented:
        out += ["Also: " + ", ".join(f"`{a}`" for a in undocumented) + " (see the attributes above).", ""]
    return out


def _module(module: ModuleType, heading: str, note: str = "") -> list[str]:
    out = [f"{heading} `{module.__name__}`", ""]
    if note:
        out += [f"*{note}*", ""]
    out += [_docstring(module.__doc__)]
    names = getattr(module, "__all__", None) or [
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
    ]
    sub = "#" * (len(heading) + 1)
    for name in names:
        value = getattr(module, name)
        qualified = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
        if inspect.isclass(value):
            out += _class(qualified, value, sub)
        elif inspect.isroutine(value):
            out += _function(qualified, value, sub)
        else:  # constants and type aliases
            text = _annotation(value) if not isinstance(value, (str, tuple, dict, list)) else repr(value)
            out += [f"{sub} `{qualified}`", "", f"```python\n{qualified} = {text}\n```", ""]
    return out


def render() -> str:
    import baohu_assign

    public = [n for n in baohu_assign.__all__ if n != "__version__"]
    names = [n for n in ORDER if n in public] + sorted(n for n in public if n not in ORDER)
    out = [
        "# API reference",
        "",
        "<!-- Generated by docs/gen_api.py from the docstrings; edit the code, then run `make docs`. -->",
        "",
        f"`baohu_assign` {baohu_assign.__version__}. Everything below is importable as "
        "`baohu_assign.<name>` (listed in `baohu_assign.__all__`), then the optional modules.",
        "",
        _docstring(baohu_assign.__doc__),
        "## Contents",
        "",
    ]
    out += [f"- [`{n}`](#{n.lower()})" for n in names]
    out += [f"- [`{m}`](#{m.replace('.', '').lower()})" for m, _ in EXTRA_MODULES]
    out.append("")
    for name in names:
        value = getattr(baohu_assign, name)
        if inspect.ismodule(value):
            out += _module(value, "##")
        elif inspect.isclass(value):
            out += _class(name, value, "##")
        else:
            out += _function(name, value, "##")
    for module_name, note in EXTRA_MODULES:
        out += _module(importlib.import_module(module_name), "##", note)
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/api.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if args.check:
        if text != current:
            print(f"{TARGET} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    if text != current:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET} ({len(text.splitlines())} lines)")
    else:
        print(f"{TARGET} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
