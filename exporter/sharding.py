"""Scale-out: split targets across replicas by a stable hash.

Each target (an org, a repository, an actor) belongs to exactly one of `count`
shards, chosen by SHA-256 of its key: replicas are disjoint, together complete,
and adding a target never moves another one. Keys are case-insensitive, as
GitHub names are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.settings import Settings


def shard_of(key: str, count: int) -> int:
    digest = hashlib.sha256(key.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Sharder:
    index: int = 0
    count: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> Sharder:
        return cls(settings.sharding.index, settings.sharding.count)

    def owns(self, key: str) -> bool:
        return self.count == 1 or shard_of(key, self.count) == self.index
