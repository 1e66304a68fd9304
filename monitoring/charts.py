"""History charts drawn on the server as SVG from the collector's snapshots (no JavaScript, no CDN).

A chart is a list of series over time; values are thinned to at most ``MAX_POINTS`` collections so
a 30-day range costs the same as a day. Labels carry units; the last value of each series is written
in the legend, so nothing needs hovering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from clusters.models import Cluster
from monitoring.models import Collection, NodeSnapshot, TableSnapshot

MAX_POINTS = 240
TOP_TABLES = 8
PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 220, 70, 10, 10, 28


@dataclass
class Series:
    label: str
    points: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def last(self) -> float | None:
        return self.points[-1][1] if self.points else None


@dataclass
class Chart:
    title: str
    unit: str  # "bytes" or "count"
    series: list[Series]
    svg: SafeString | None = None

    def fmt(self, value: float | None) -> str:
        if value is None:
            return "—"
        return filesizeformat(value) if self.unit == "bytes" else f"{value:,.0f}"

    @property
    def legend(self) -> list[tuple[str, str, str]]:
        return [(PALETTE[i % len(PALETTE)], s.label, self.fmt(s.last)) for i, s in enumerate(self.series)]


def history(cluster: Cluster, since: datetime) -> dict[str, Any]:
    """Four app-database reads for any range and cluster size, and one catalog statement for names."""
    collections = list(
        Collection.objects.filter(cluster=cluster, finished=True, ok=True, started_at__gte=since)
        .order_by("started_at")
        .values_list("id", "measured_at")
    )
    if len(collections) > MAX_POINTS:
        step = len(collections) / MAX_POINTS
        collections = [collections[int(i * step)] for i in range(MAX_POINTS)] + [collections[-1]]
    when = {cid: at for cid, at in collections if at is not None}
    ids = list(when)
    node_bytes: dict[str, Series] = {}
    node_shards: dict[str, Series] = {}
    for cid, name, port, value, placements in (
        NodeSnapshot.objects.filter(collection_id__in=ids)
        .order_by("collection_id", "groupid")
        .values_list("collection_id", "nodename", "nodeport", "bytes", "placements")
    ):
        label = f"{name}:{port}"
        if value is not None:
            node_bytes.setdefault(label, Series(label)).points.append((when[cid], float(value)))
        node_shards.setdefault(label, Series(label)).points.append((when[cid], float(placements)))
    tables: dict[int, Series] = {}
    if ids:
        top = list(
            TableSnapshot.objects.filter(collection_id=ids[-1], bytes__isnull=False)
            .order_by("-bytes")
            .values_list("relid", flat=True)[:TOP_TABLES]
        )
        names: dict[int, str] = {}
        for cid, relid, value, name in (
            TableSnapshot.objects.filter(collection_id__in=ids, relid__in=top, bytes__isnull=False)
            .order_by("collection_id")
            .values_list("collection_id", "relid", "bytes", "name")
        ):
            tables.setdefault(relid, Series(str(relid))).points.append((when[cid], float(value or 0)))
            names[relid] = name or names.get(relid, "")  # the name it had when last measured
        for relid, series in tables.items():
            series.label = names.get(relid) or f"table with oid {relid} (measured before names were kept)"
    charts = [
        Chart("Bytes per node", "bytes", list(node_bytes.values())),
        Chart(
            f"Bytes per table (largest {TOP_TABLES})", "bytes", sorted(tables.values(), key=lambda s: -(s.last or 0))
        ),
        Chart("Shard placements per node", "count", list(node_shards.values())),
    ]
    for chart in charts:
        chart.svg = render_svg(chart)
    return {"charts": charts, "points": len(ids), "first": when.get(ids[0]) if ids else None}


def nice_top(value: float, unit: str, ticks: int = 4) -> float:
    """A round axis maximum: 1, 2, 2.5 or 5 times a power of ten (of 1024 for bytes), at least ``value``;
    counts get whole-number ticks."""
    if value <= 0:
        return float(ticks)
    scale = 1.0
    if unit == "bytes":
        while value / scale >= 1024:
            scale *= 1024
    exp = 10 ** math.floor(math.log10(value / scale))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp * scale >= value:
            top = m * exp * scale
            break
    if unit == "count" and top < ticks:
        top = float(ticks)
    return top


def _ticks(high: float, count: int = 4) -> list[float]:
    return [high * i / count for i in range(count + 1)]


def render_svg(chart: Chart) -> SafeString:
    points = [p for s in chart.series for p in s.points]
    if not points:
        return format_html(
            '<svg class="chart" viewBox="0 0 {} 60" role="img" aria-label="{}: no data"><text x="10" y="35" '
            'class="axis">No measurements in this range yet.</text></svg>',
            WIDTH,
            chart.title,
        )
    t0 = min(p[0] for p in points).timestamp()
    t1 = max(p[0] for p in points).timestamp()
    span = (t1 - t0) or 1.0
    top = nice_top(max(p[1] for p in points), chart.unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + (at.timestamp() - t0) / span * plot_w

    def y(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
        '<text x="{}" y="{}" class="axis" text-anchor="end">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, f"{y(v):.1f}", f"{y(v):.1f}", LEFT - 4, f"{y(v) + 4:.1f}", chart.fmt(v))
            for v in _ticks(top)
        ),
    )
    long_range = span > 2 * 86400
    steps = 4 if t1 > t0 else 0  # one collection: one time label
    anchors = {steps: "end", 0: "start"}
    times = format_html_join(
        "",
        '<text x="{}" y="{}" class="axis" text-anchor="{}">{}</text>',
        (
            (
                f"{LEFT + (plot_w * i / steps if steps else 0):.1f}",
                HEIGHT - 8,
                anchors.get(i, "middle"),
                datetime.fromtimestamp(t0 + (span * i / steps if steps else 0), tz=UTC).strftime(
                    "%m-%d %H:%M" if long_range else "%H:%M:%S" if span < 600 else "%H:%M"
                ),
            )
            for i in range(steps + 1)
        ),
    )
    lines = format_html_join(
        "",
        '<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"><title>{}</title></polyline>{}',
        (
            (
                PALETTE[i % len(PALETTE)],
                " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in s.points),
                s.label,
                format_html(
                    '<circle cx="{}" cy="{}" r="2.5" fill="{}"/>',
                    f"{x(s.points[-1][0]):.1f}",
                    f"{y(s.points[-1][1]):.1f}",
                    PALETTE[i % len(PALETTE)],
                )
                if s.points
                else "",
            )
            for i, s in enumerate(chart.series)
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}" data-points="{n}">{grid}{times}'
        '<line x1="{l}" x2="{l}" y1="{t}" y2="{b}" class="axisline"/>{lines}'
        '<text x="{l}" y="{h}" class="axis" dx="-60" dy="-8">UTC</text></svg>',
        w=WIDTH,
        h=HEIGHT,
        title=chart.title,
        n=len(points),
        grid=grid,
        times=times,
        l=LEFT,
        t=TOP,
        b=TOP + plot_h,
        lines=lines,
    )
