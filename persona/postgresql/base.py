"""Django's PostgreSQL backend, with the connection health check skipped for a connection
that has just proved healthy.

CONN_HEALTH_CHECKS sends a `SELECT 1` before the first query of every request: a round
trip that cost about 5% of the throughput of a cached read or a sync report (bench/). It
is there for connections that went stale while idle, after a database restart say. So a
connection whose queries all went through in a request that ended under a second ago is
not checked again. A restart within that second fails the requests in flight with or
without a check; their errors close the connection and the next request reconnects.
"""

import time

from django.db.backends.postgresql import base

RECENTLY_HEALTHY_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    healthy_at = float("-inf")
    used = False

    def create_cursor(self, name=None):
        self.used = True
        return super().create_cursor(name)

    def close_if_unusable_or_obsolete(self):
        # Called when a request starts and when it ends (django.db.close_old_connections).
        now = time.monotonic()
        if self.used and not self.errors_occurred:
            self.healthy_at = now
        self.used = False
        super().close_if_unusable_or_obsolete()
        if self.connection is not None and now - self.healthy_at < RECENTLY_HEALTHY_SECONDS:
            self.health_check_done = True
