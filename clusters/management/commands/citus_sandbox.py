"""A local Citus cluster to try the console: ``manage.py citus_sandbox up|down|status``.

Built from the Citus extension installed on this machine (three PostgreSQL instances on free ports
under CITUSADMIN_SANDBOX_DIR, 127.0.0.1 only). ``up`` also registers it as the cluster 'sandbox'.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from citusadmin import request_context
from citusadmin.citus.sandbox import Sandbox, SandboxError, citus_installed
from clusters.actions import record_sandbox_registration
from clusters.models import Cluster


class Command(BaseCommand):
    help = "Start, stop or show a local Citus sandbox cluster (coordinator + workers)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("verb", choices=["up", "down", "status"])
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--destroy", action="store_true", help="with down: delete the data directories")
        parser.add_argument(
            "--if-available", action="store_true", help="with up: exit quietly when Citus is not installed here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        request_context.set_current(request_context.RequestContext(source="cli"))
        sandbox = Sandbox(settings.SANDBOX_DIR)
        verb = options["verb"]
        if verb == "up":
            if options["if_available"] and not settings.SANDBOX_ENABLED:
                self.stdout.write("No local sandbox: CITUSADMIN_SANDBOX is off.")
                return
            ok, reason = citus_installed()
            if not ok:
                if options["if_available"]:
                    self.stdout.write(f"No local sandbox: {reason}.")
                    return
                raise CommandError(reason)
            try:
                nodes = sandbox.up(workers=options["workers"])
            except SandboxError as exc:
                raise CommandError(str(exc)) from None
            self._register(sandbox)
            for node in nodes:
                self.stdout.write(f"{node.name:12} 127.0.0.1:{node.port}")
            self.stdout.write("Sandbox running; registered as cluster 'sandbox'.")
        elif verb == "down":
            sandbox.down(destroy=options["destroy"])
            self.stdout.write("Sandbox stopped." + (" Data removed." if options["destroy"] else ""))
        else:
            status = sandbox.status()
            if not status:
                self.stdout.write("No sandbox created yet (manage.py citus_sandbox up).")
            for node, running in status:
                self.stdout.write(f"{node.name:12} 127.0.0.1:{node.port:<6} {'running' if running else 'stopped'}")

    def _register(self, sandbox: Sandbox) -> None:
        params = sandbox.params()
        cluster = Cluster.objects.filter(name="sandbox").first()
        if cluster is None:
            cluster = Cluster(name="sandbox", description="Local sandbox (manage.py citus_sandbox)")
        elif not cluster.is_sandbox:
            raise CommandError("A cluster named 'sandbox' exists and is not the sandbox; rename it first.")
        cluster.is_sandbox = True
        cluster.host = params["host"]
        cluster.port = int(params["port"])
        cluster.dbname = params["dbname"]
        cluster.user = params["user"]
        cluster.sslmode = "disable"
        created = cluster.pk is None
        cluster.save()
        if created:
            record_sandbox_registration(cluster)
