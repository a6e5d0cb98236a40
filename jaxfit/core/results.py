"""One result protocol for every fit, scan and workflow of every domain.

A user who has one jaxfit result knows them all::

    result.summary()              # a few lines of text: the answer and whether to trust it
    result.to_dict()              # everything JSON can hold (numbers, lists, the verdicts)
    result.plot()                 # a new matplotlib Figure
    result.save("out", "mw_fit")  # {"json": out/mw_fit.json, "csv": ..., "png": ...}

:class:`ResultSet` implements ``save`` once, from three methods the result defines:
``to_dict()``, ``to_frame()`` (the table that goes to CSV) and ``plot()``. The three files
are rendered in memory before any is written, then written as one set, complete or absent
(:func:`jaxfit.core.io.write_result_set`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from jaxfit.core.io import write_result_set


@runtime_checkable
class Result(Protocol):
    """What every result of jaxfit offers (see the module doc)."""

    def to_dict(self) -> dict: ...

    def summary(self) -> str: ...

    def plot(self): ...

    def save(self, directory, stem: str | None = None, provenance: dict | None = None
             ) -> dict[str, Path]: ...


class ResultSet:
    """Mixin giving a result :meth:`save` from its ``to_dict``, ``to_frame`` and ``plot``.

    Subclasses set ``default_stem`` (the file name used when ``save`` gets none).
    """

    default_stem: ClassVar[str] = "result"

    def save(self, directory, stem: str | None = None, provenance: dict | None = None
             ) -> dict[str, Path]:
        """Write ``stem.json`` (``to_dict()``, plus ``provenance`` when given), ``stem.csv``
        (``to_frame()``) and ``stem.png`` (``plot()``) into ``directory``.

        Returns:
            ``{"json": path, "csv": path, "png": path}``.
        """
        record = self.to_dict()
        if provenance is not None:
            record = record | {"provenance": provenance}
        return write_result_set(directory, stem or self.default_stem, record,
                                self.to_frame(), self.plot())
