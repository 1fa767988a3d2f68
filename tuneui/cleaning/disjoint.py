"""Union-find over example indices, shared by near-duplicate clustering and the group-aware split."""

from __future__ import annotations


class DisjointSets:
    """Sets of integers; each set's root is its smallest member, so results do not depend on the
    order pairs arrive in. Only members of some union are stored (a million singletons cost nothing)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def members(self) -> list[int]:
        """Every integer that was joined to another."""
        return list(self.parent)
