"""gunicorn's threaded worker with two changes to how connections end (gunicorn.conf.py
selects it). Nothing here imports Django: gunicorn's master loads this module too."""

from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.http.parser import _DRAIN_MAX_BYTES
from gunicorn.workers import gthread


class ThreadWorker(gthread.ThreadWorker):
    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = close_when_body_left_unread(self.wsgi)

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            self.close_listeners()

    def close_listeners(self):
        """Closes this worker's copy of the listening sockets once it stops accepting.

        On SIGTERM the master closes its own copy first, so once every worker has closed
        theirs the kernel refuses new connections at once, instead of queueing them for
        workers that only finish what they hold and exit. When one worker stops alone (a HUP
        reload, max_requests), the master keeps the sockets open for the others.
        """
        for listener in self.sockets:
            listener.close()


def close_when_body_left_unread(app):
    """Makes an answer given before the request's body was read say `Connection: close`
    when more of the body is left than gunicorn drains after the answer.

    gunicorn closes such a connection after the answer; announced, the client opens a new
    one for its next request instead of sending it into a closing socket. gunicorn drops a
    Connection header set by the application: its own response object's `force_close()`,
    reached through the bound `start_response` it passes, is the way to say it.
    """

    def wsgi(environ, start_response):
        def start(status, headers, exc_info=None):
            if _unread_beyond_drain(environ["wsgi.input"]):
                start_response.__self__.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


def _unread_beyond_drain(body) -> bool:
    reader = getattr(body, "reader", None)
    if isinstance(reader, LengthReader):
        return body.buf.tell() + reader.length >= _DRAIN_MAX_BYTES
    if isinstance(reader, ChunkedReader):
        # How much of a chunked body is left is unknown until its last chunk has been read.
        return reader.parser is not None
    return False
