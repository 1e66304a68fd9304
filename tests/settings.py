"""Settings for the test suite: the real settings module with test-only defaults."""

import os
import tempfile

_var = os.environ.setdefault("CITUSADMIN_VAR_DIR", tempfile.mkdtemp(prefix="citusadmin-test-var-"))
os.environ.setdefault("CITUSADMIN_HTTPS", "false")
os.environ.setdefault("CITUSADMIN_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Short job leases and slices, so crash and re-attach scenarios play out in seconds.
os.environ.setdefault("CITUSADMIN_JOB_LEASE_SECONDS", "4")
os.environ.setdefault("CITUSADMIN_JOB_SUPERVISOR_SLICE_SECONDS", "15")
# Tests that change a cluster and look again at once see the change; sharing is tested on its own.
os.environ.setdefault("CITUSADMIN_MONITORING_SHARE_SECONDS", "0")

from citusadmin.settings import *  # noqa: E402,F403
from citusadmin.settings import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so a real Celery worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
