"""Snapshots from the background collector: what was measured, and when."""

from __future__ import annotations

from django.db import models

from clusters.models import Cluster


class Collection(models.Model):
    """One run of the collector against one cluster.

    Sizes, reachability, the health matrix and connection counts reach every node, so pages never
    compute them: they read the latest finished collection and show ``measured_at``. A part that
    could not be measured stores why in its ``*_error`` field; missing values mean "unknown", never 0.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "schedule"
        MANUAL = "manual", "refresh now"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="collections")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    started_at = models.DateTimeField()
    measured_at = models.DateTimeField(null=True, blank=True)
    finished = models.BooleanField(default=False)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    sizes_error = models.TextField(blank=True)
    health = models.JSONField(default=list, blank=True)  # [[from "host:port", to "host:port", true|false|null]]
    health_error = models.TextField(blank=True)
    connections_error = models.TextField(blank=True)
    max_shared_pool_size = models.IntegerField(null=True, blank=True)
    max_connections = models.IntegerField(null=True, blank=True)
    thinned = models.BooleanField(default=False)  # per-table rows dropped unless first of its hour
    # from the coordinator's catalog (None: not measured, or this Citus has no such table)
    cleanup_records = models.IntegerField(null=True, blank=True)
    failed_tasks = models.IntegerField(null=True, blank=True)
    retrying_tasks = models.IntegerField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        permissions = [
            ("collect_now", "Refresh a cluster's measurements now"),
            ("view_monitoring", "See query statistics, sessions, lock waits, tenants and health"),
            ("cancel_session", "Cancel a running query on a cluster (pg_cancel_backend)"),
            ("terminate_session", "Terminate a session on a cluster (pg_terminate_backend)"),
            ("reset_stats", "Reset a cluster's query and tenant statistics"),
            ("explain_query", "Explain a query in the workbench (EXPLAIN: plans only, nothing runs)"),
            ("explain_analyze", "Run EXPLAIN ANALYZE of a SELECT in the workbench (read-only, rolled back)"),
        ]
        indexes = [
            # overview: latest finished collection of a cluster
            models.Index(fields=["cluster", "finished", "-started_at"], name="collection_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} @ {self.started_at:%Y-%m-%d %H:%M:%S}"


class NodeSnapshot(models.Model):
    """A node as the collector saw it. ``bytes``/``reachable``/``connections`` None = unknown."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="nodes")
    nodeid = models.IntegerField()
    groupid = models.IntegerField()
    nodename = models.CharField(max_length=255)
    nodeport = models.IntegerField()
    shouldhaveshards = models.BooleanField(default=True)
    isactive = models.BooleanField(default=True)
    metadatasynced = models.BooleanField(default=True)
    reachable = models.BooleanField(null=True)
    placements = models.IntegerField(default=0)
    sized_placements = models.IntegerField(default=0)
    bytes = models.BigIntegerField(null=True)
    connections = models.IntegerField(null=True)

    class Meta:
        default_permissions = ()
        ordering = ["groupid", "nodeid"]

    def __str__(self) -> str:
        return f"{self.nodename}:{self.nodeport}"

    @property
    def address(self) -> str:
        return f"{self.nodename}:{self.nodeport}"


class TableSnapshot(models.Model):
    """Bytes of one Citus table at a collection (history charts, table list sizes)."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="tables")
    relid = models.BigIntegerField()
    name = models.CharField(max_length=300, blank=True)  # as the table was named when measured
    bytes = models.BigIntegerField(null=True)
    shards = models.IntegerField()
    sized_shards = models.IntegerField()
    # Sum of the shards' row estimates (reltuples on the nodes); None when no shard has one yet.
    rows = models.BigIntegerField(null=True)
    estimated_shards = models.IntegerField(default=0)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["collection", "relid"], name="tablesnap_collection_relid")]

    def __str__(self) -> str:
        return f"{self.relid}: {self.bytes}"


class ColocationNodeSnapshot(models.Model):
    """Placements and bytes of one co-location group on one node group, at a collection (the map's skew)."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="colocations")
    colocation_id = models.IntegerField()
    groupid = models.IntegerField()
    placements = models.IntegerField()
    bytes = models.BigIntegerField(null=True)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["collection", "colocation_id"], name="colocsnap_collection_coloc")]

    def __str__(self) -> str:
        return f"{self.colocation_id}@{self.groupid}"


class ShardSize(models.Model):
    """Size of one shard from the latest successful collection of its cluster (replaced each time)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    shardid = models.BigIntegerField()
    bytes = models.BigIntegerField()
    measured_at = models.DateTimeField()

    class Meta:
        default_permissions = ()
        # placement map and table page: sizes of the shards on the page
        indexes = [models.Index(fields=["cluster", "shardid"], name="shardsize_cluster_shard")]

    def __str__(self) -> str:
        return f"{self.shardid}: {self.bytes}"


class PendingCollection(models.Model):
    """A collection of this cluster is queued and has not started: "Refresh now" pressed again and
    beat's next tick queue nothing more (at most one pending collection per cluster). The task deletes
    the row when it starts; a row older than a few collector intervals is treated as lost."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="+")
    queued_at = models.DateTimeField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"collection of {self.cluster_id} queued at {self.queued_at}"


class SavedExplain(models.Model):
    """A workbench plan a user kept, to look at again or to compare with another (before and after a
    change). Each user keeps their own, the newest SAVED_PER_USER per cluster."""

    SAVED_PER_USER = 50

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100, blank=True)
    query = models.TextField()
    analyzed = models.BooleanField(default=False)
    plan = models.JSONField()  # EXPLAIN's JSON, as Citus returned it
    facts = models.JSONField(default=list)  # the tables as they were (distribution column, co-location)
    repartition_joins_enabled = models.BooleanField(default=True)
    shape = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    total_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "cluster", "-id"], name="savedexplain_user_cluster")]

    def __str__(self) -> str:
        return f"{self.name or self.title} ({self.created_at:%Y-%m-%d %H:%M})"


class Alert(models.Model):
    """One condition of one rule on one subject (a node, a cluster, a job, the console), from the
    moment it was first seen until it resolved. At most one open alert per (cluster, rule, subject):
    the database refuses a second, so two evaluators never raise it twice.

    pending (seen, not yet for the rule's minutes) -> firing -> acknowledged -> resolved
    (a pending one that clears is deleted: it never fired)."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        FIRING = "firing", "firing"
        ACKNOWLEDGED = "acknowledged", "acknowledged"
        RESOLVED = "resolved", "resolved"

    OPEN_STATES = (State.PENDING, State.FIRING, State.ACKNOWLEDGED)

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    rule = models.CharField(max_length=40)
    subject = models.CharField(max_length=300, blank=True)  # node address, job number, ...
    key = models.CharField(max_length=400)  # "<cluster id or console>:<rule>:<subject>"
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    severity = models.CharField(max_length=10, default="warning")
    message = models.TextField()
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_comment = models.TextField(blank=True)

    class Meta:
        default_permissions = ()
        permissions = [("acknowledge_alert", "Acknowledge an alert (with a comment)")]
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(state__in=["pending", "firing", "acknowledged"]),
                name="one_open_alert_per_subject",
            )
        ]
        indexes = [models.Index(fields=["state", "-id"], name="alert_state_id")]

    def __str__(self) -> str:
        return f"{self.rule} {self.subject} ({self.state})"


class AlertDelivery(models.Model):
    """One notification of one alert event through one channel: sent once (unique), retried with
    backoff until it is sent or gives up."""

    class Event(models.TextChoices):
        FIRING = "firing", "firing"
        RESOLVED = "resolved", "resolved"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=10, choices=Event.choices)
    channel = models.CharField(max_length=300)  # "email:<address>" or "webhook:<n>"
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    gave_up = models.BooleanField(default=False)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["alert", "event", "channel"], name="one_delivery_per_event_channel")
        ]
        indexes = [models.Index(fields=["sent_at", "next_attempt_at"], name="alertdelivery_due")]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.event} -> {self.channel}"


class AlertOverride(models.Model):
    """A cluster's own setting for one rule: off, or another duration or threshold."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=40)
    enabled = models.BooleanField(default=True)
    for_minutes = models.IntegerField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        permissions = [("configure_alerts", "Switch an alert rule off or change its minutes or threshold on a cluster")]
        constraints = [models.UniqueConstraint(fields=["cluster", "rule"], name="one_override_per_rule")]

    def __str__(self) -> str:
        return f"{self.cluster_id} {self.rule}"
