"""HEAD requests: the status and headers GET would send, Content-Length included, and no
body from the app, so gunicorn has nothing to drop and nothing to warn about in its log."""

from testing.helpers import http, live_gunicorn

PATHS = ["/health", "/api/auth/profile", "/api/nope", "/static/admin/css/base.css"]


def test_head_answers_like_get_without_a_body_and_gunicorn_logs_no_warning(tmp_path):
    log = tmp_path / "gunicorn.log"
    with live_gunicorn(log=log) as (_, base_url):
        heads = [http("HEAD", f"{base_url}{path}") for path in PATHS]
        gets = [http("GET", f"{base_url}{path}") for path in PATHS]

    assert [status for status, _, _ in heads] == [200, 401, 404, 200]
    assert [body for _, _, body in heads] == [b""] * len(PATHS)
    # /health's body changes from one request to the next (its timestamp and uptime).
    assert [headers["Content-Length"] for _, headers, _ in heads[1:]] == [
        headers["Content-Length"] for _, headers, _ in gets[1:]
    ]
    assert int(heads[0][1]["Content-Length"]) > 0
    assert "body bytes" not in log.read_text()
