"""The production server: gunicorn with DEBUG off serves the API and the admin's CSS."""

import signal

from testing.helpers import http, live_gunicorn


def test_gunicorn_serves_health_and_admin_css_then_stops_cleanly():
    with live_gunicorn() as (server, base_url):
        assert http("GET", f"{base_url}/health")[0] == 200
        status, headers, _ = http("GET", f"{base_url}/static/admin/css/base.css")
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
