"""gunicorn settings, read from the environment (see .env.example)."""

import multiprocessing
import os


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's set), not the host's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return multiprocessing.cpu_count()


bind = f"0.0.0.0:{os.environ.get('PORT', '3000')}"
# One worker per usable CPU: a worker runs Python on one CPU at a time (the GIL), and more
# workers than CPUs only add memory.
workers = int(os.environ.get("WEB_CONCURRENCY", usable_cpus()))
# gunicorn's gthread worker, ending connections more cleanly (see persona.gunicorn_worker).
worker_class = "persona.gunicorn_worker.ThreadWorker"
# Threads let requests overlap while one waits on the database. Password hashes are bounded
# apart from them (accounts.hashers answers 503 rather than queueing), so a flood of
# sign-ins never takes the threads that serve everyone else.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30
# On SIGTERM, workers finish the requests they hold for up to this long before exiting.
graceful_timeout = 30
# Addresses of the proxy in front (deploy/nginx.conf) whose X-Forwarded-Proto gunicorn
# trusts; the app's TRUSTED_PROXY_COUNT counts the same proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access logs come from persona.middleware.RequestLogMiddleware as JSON lines.
accesslog = None
# gunicorn's runtime control socket is one fixed path per host; instances side by side
# would fight over it, and nothing here uses it.
control_socket_disable = True
