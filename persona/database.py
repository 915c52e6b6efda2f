"""PostgreSQL connections as Django's pool hands them out."""

import psycopg


class Connection(psycopg.Connection):
    """psycopg's connection, with which the pool recovers from a database restart at once.

    Django's queries go through cursors, never `execute`; the pool's check of each connection
    it hands out does (psycopg_pool's `check_connection` runs `execute("")`). A connection found
    broken there has the pool replace its idle ones too: after a database restart they are all
    dead, and the pool would try them one at a time, waiting longer after each, past a
    request's patience.
    """

    def execute(self, *args, **kwargs):
        try:
            return super().execute(*args, **kwargs)
        except psycopg.OperationalError:
            # _pool is set while a pool hands the connection out (Django relies on it too).
            if self.broken and (pool := getattr(self, "_pool", None)):
                pool.drain()
            raise
