"""A griffe extension for the docs build: jaxfit's docstrings as mkdocstrings reads them.

Three changes. Each object is documented once, at its home: names a module imports from
another jaxfit module (the re-exports that keep old import paths working) are left out of
its page. And two rewrites of the docstring text before griffe parses it:

1. Sphinx roles become inline code (below).
2. An ``Args:`` entry that documents several parameters at once (``a, b: the interval``),
   which jaxfit uses and Google style has no form for, becomes one entry per parameter with
   the same description, so each name is checked against the signature.

jaxfit's docstrings are Google style but name other objects with Sphinx roles
(:func:`~jaxfit.core.optimize.minimize`, :mod:`jaxfit.core.lm`). Markdown has no roles, so
each becomes inline code: ``~a.b.c`` shows ``c``, anything else its full text. Cross-references
that must resolve (and fail the strict build when they do not) are written in the pages as
Markdown autorefs, ``[minimize][jaxfit.core.optimize.minimize]``.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|obj|exc|const|term|ref):`([^`]+)`")


def _code(match: re.Match) -> str:
    target = match.group(1).strip()
    if "<" in target and target.endswith(">"):  # :ref:`title <target>`
        target = target.split("<", 1)[0].strip()
    elif target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Keyword Args|Other Parameters):\s*$")
GROUP = re.compile(r"^(\s+)(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)+)(\s*(?:\([^)]*\))?:\s.*|\s*:)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_grouped_args(text: str) -> str:
    """Return ``text`` with each ``a, b: ...`` entry of an Args section split per name."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    section_indent = None
    while i < len(lines):
        line = lines[i]
        head = SECTION.match(line)
        if head:
            section_indent = len(head.group(1))
            out.append(line)
            i += 1
            continue
        if section_indent is not None and line.strip() and _indent(line) <= section_indent:
            section_indent = None
        group = GROUP.match(line) if section_indent is not None else None
        if group:
            indent, names, rest = group.groups()
            body = []
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > len(indent)):
                if not lines[j].strip() and (
                    j + 1 >= len(lines) or _indent(lines[j + 1]) <= len(indent)
                ):
                    break
                body.append(lines[j])
                j += 1
            for name in (n.strip() for n in names.split(",")):
                out.append(f"{indent}{name}{rest}")
                out.extend(body)
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def convert(text: str) -> str:
    """Return ``text`` with Sphinx roles as inline code and grouped Args entries split."""
    return split_grouped_args(ROLE.sub(_code, text))


class SphinxRolesAsCode(griffe.Extension):
    """Rewrites the roles of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)


class DocumentAtHome(griffe.Extension):
    """Leaves out of each jaxfit module the names it imports from another jaxfit module."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        if pkg.name != "jaxfit":
            return
        todo = [pkg]
        while todo:
            module = todo.pop()
            for name, member in list(module.members.items()):
                if member.is_alias:
                    if member.target_path.startswith("jaxfit."):
                        del module.members[name]
                elif member.is_module:
                    todo.append(member)
