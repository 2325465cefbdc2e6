"""Results computed from a fit's draws, remembered in this process.

Scenarios that share a fit (they differ only in interventions, or a sweep runs them) get the
very same draws from the fit cache, so what is computed from those draws (forecast paths,
the prior's importance weights) is computed once per process. A result is used only for the
draws it was made from: a fit made anew under the same key is computed anew.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator


class DrawsMemo[T]:
    """At most ``size`` results by key, the least recently used dropped first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[object, T]] = OrderedDict()

    def get(self, key: Hashable, draws: object, compute: Callable[[], T]) -> T:
        """The result remembered for ``key`` if it was made from ``draws`` (the same object),
        else ``compute()``, remembered."""
        found = self._items.get(key)
        if found is None or found[0] is not draws:
            found = (draws, compute())
            self._items[key] = found
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        self._items.move_to_end(key)
        return found[1]

    def results(self) -> Iterator[T]:
        """The remembered results."""
        return (result for _, result in self._items.values())
