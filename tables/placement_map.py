"""The placement map: per co-location group, which node holds which shard, how big, and the skew."""

from __future__ import annotations

from dataclasses import dataclass, field

from citusadmin.citus.nodes import Node
from citusadmin.citus.tables import Colocation, GroupPlacement


@dataclass
class Cell:
    shardid: int
    bytes: int | None
    bucket: int  # 0..4 relative to the group's largest shard shown, for the square's shade


@dataclass
class NodeColumn:
    node: Node
    placements: int | None  # whole group, from the snapshot (None: not measured)
    bytes: int | None
    cells: list[Cell] = field(default_factory=list)


@dataclass
class GroupMap:
    group: Colocation
    columns: list[NodeColumn]
    shown: int
    skew_bytes_percent: int | None
    skew_shards_percent: int | None
    max_bytes: int


def _skew(values: list[int]) -> int | None:
    if len(values) < 2 or not sum(values):
        return None
    mean = sum(values) / len(values)
    return int((max(values) - min(values)) / mean * 100)


def build(
    groups: list[Colocation],
    placements: list[GroupPlacement],
    nodes: list[Node],
    group_totals: dict[tuple[int, int], tuple[int, int | None]],
    shard_bytes: dict[int, int],
) -> list[GroupMap]:
    by_group: dict[int, list[GroupPlacement]] = {}
    for p in placements:
        by_group.setdefault(p.colocation_id, []).append(p)
    maps = []
    for group in groups:
        rows = by_group.get(group.colocation_id, [])
        sizes = [shard_bytes.get(p.shardid) for p in rows]
        top = max([s for s in sizes if s is not None], default=0)
        holders = {p.groupid for p in rows} | {g for (c, g) in group_totals if c == group.colocation_id}
        columns = []
        for node in nodes:
            if node.groupid not in holders or node.noderole != "primary":
                continue
            totals = group_totals.get((group.colocation_id, node.groupid))
            column = NodeColumn(
                node=node, placements=totals[0] if totals else None, bytes=totals[1] if totals else None
            )
            for p in rows:
                if p.groupid == node.groupid:
                    size = shard_bytes.get(p.shardid)
                    bucket = 0 if size is None or not top else min(4, int(size / top * 4.999))
                    column.cells.append(Cell(shardid=p.shardid, bytes=size, bucket=bucket))
            columns.append(column)
        counts = [c.placements for c in columns if c.placements is not None]
        byte_values = [c.bytes for c in columns]
        maps.append(
            GroupMap(
                group=group,
                columns=columns,
                shown=len({p.shardid for p in rows}),
                skew_bytes_percent=_skew([b for b in byte_values if b is not None])
                if None not in byte_values
                else None,
                skew_shards_percent=_skew(counts),
                max_bytes=max([b or 0 for b in byte_values], default=0),
            )
        )
    return maps
