"""Batch scoring: rate every photo of a folder, a list file or a stage table into one table.

`sources` (the collection, its order and shards) → `run` (parallel preparation, batched model
calls, finished parts that a rerun resumes: `prettymeter.parts`) → the `results` table.
Decisions: docs/cli.md, "rate".
"""

from prettymeter.batch.results import RESULT_SCHEMA, output_format, read_results
from prettymeter.batch.run import PART_ROWS, rate_collection
from prettymeter.batch.sources import Collection, Item, Shard, open_collection, shard_of

__all__ = [
    "PART_ROWS",
    "RESULT_SCHEMA",
    "Collection",
    "Item",
    "Shard",
    "open_collection",
    "output_format",
    "rate_collection",
    "read_results",
    "shard_of",
]
