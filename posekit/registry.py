"""The one registry type: named entries of one kind (decoders, networks, runtimes), in order.

Each registry is a :class:`Registry`, a ``dict`` from name to entry that
refuses empty or taken names and answers an unknown name with a
``ValueError`` listing the known ones. A new decoder, network or runtime is
one :meth:`Registry.add` call (through the room's own ``register_*``
function, which checks the entry first), from any package.
"""

from __future__ import annotations

import logging
from typing import Dict, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Registry(Dict[str, T]):
    """Entries of one kind by name, in registration order (the first is the default)."""

    def __init__(self, kind: str) -> None:
        """An empty registry of ``kind`` (``"decoder"``, ``"network"``, ...), named in errors."""
        super().__init__()
        self.kind = kind

    def add(self, name: str, entry: T, replace: bool = False) -> T:
        """Register ``entry`` as ``name``.

        Args:
            name: a non-empty string.
            entry: what the name stands for (checked by the caller).
            replace: allow replacing an entry of the same name.

        Returns:
            ``entry``.

        Raises:
            ValueError: ``name`` empty or not a string, or taken and not ``replace``.
        """
        self.check_name(name, replace)
        self[name] = entry
        logger.debug("%s %r registered", self.kind, name)
        return entry

    def check_name(self, name: str, replace: bool = False) -> None:
        """Refuse a name :meth:`add` would refuse (before the caller checks its entry).

        Raises:
            ValueError: ``name`` empty or not a string, or taken and not ``replace``.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if name in self and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered (pass replace=True)")

    def lookup(self, name: str) -> T:
        """The entry registered as ``name``.

        Raises:
            ValueError: no entry of that name (the message lists the names).
        """
        try:
            return self[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of "
                             f"{', '.join(self)}") from None
