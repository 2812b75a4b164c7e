"""Package attributes imported on first use (PEP 562), so that importing a package is cheap.

The command line starts its first request before the planner, sqlglot and pydantic's
declaration models are imported (they load while the answer is on its way); a package
``__init__`` that imported its whole public API eagerly would defeat that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def exports(
    package: str, homes: Mapping[str, Sequence[str]], names: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``.

    ``homes`` maps each module to the names of ``names`` (the package's ``__all__``) it
    defines; names the package already holds (imported eagerly) need none. A name of
    ``names`` with no home, or a home for a name not in ``names``, is an error at import.
    """
    namespace = importlib.import_module(package).__dict__
    home_of = {name: module for module, defined in homes.items() for name in defined}
    missing = sorted(set(names) - set(home_of) - set(namespace))
    extra = sorted(set(home_of) - set(names))
    if missing or extra:
        raise ImportError(f"{package}: no home for {missing}, not in __all__: {extra}")

    def __getattr__(name: str) -> Any:
        home = home_of.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
