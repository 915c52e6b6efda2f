"""gunicorn's threaded worker with two changes to how connections end (gunicorn.conf.py
selects it). Nothing here imports Django: gunicorn's master loads this module too."""

import time

from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.http.parser import _DRAIN_MAX_BYTES
from gunicorn.workers import gthread

# How long a worker thread keeps reading an unwanted body after the answer: the bound
# gunicorn gives its own drain.
LINGER_SECONDS = gthread.DEFAULT_WORKER_DATA_TIMEOUT
LINGER_READ_BYTES = 64 * 1024


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
    """An answer given before the request's body was read, with more of it left than
    gunicorn drains, says `Connection: close`; once it is sent, the rest of the body is
    read and dropped, for a while, before the connection closes.

    gunicorn would close such a connection after the answer anyway, unannounced, so the
    client's next request on it failed. And closing a socket with unread data resets the
    connection: a client still sending the body (most HTTP libraries send it all before
    reading, and so does nginx) lost the answer with it, or, behind nginx, got a 502.

    gunicorn drops a Connection header set by the application: its own response object's
    `force_close()`, reached through the bound `start_response` it passes, is the way.
    """

    def wsgi(environ, start_response):
        closing = False

        def start(status, headers, exc_info=None):
            nonlocal closing
            if _unread_beyond_drain(environ["wsgi.input"]):
                start_response.__self__.force_close()
                closing = True
            return start_response(status, headers, exc_info)

        response = app(environ, start)
        if closing:
            return _ThenDrop(response, environ["wsgi.input"], environ["gunicorn.socket"])
        return response

    return wsgi


def _unread_beyond_drain(body) -> bool:
    reader = getattr(body, "reader", None)
    if isinstance(reader, LengthReader):
        return body.buf.tell() + reader.length >= _DRAIN_MAX_BYTES
    if isinstance(reader, ChunkedReader):
        # How much of a chunked body is left is unknown until its last chunk has been read.
        return reader.parser is not None
    return False


class _ThenDrop:
    """The app's response, then, when gunicorn closes it after sending it, the rest of the
    request body read and dropped until it ends, the client stops, or time is up."""

    def __init__(self, response, body, sock):
        self.response = response
        self.body = body
        self.sock = sock

    def __iter__(self):
        return iter(self.response)

    def close(self):
        try:
            if hasattr(self.response, "close"):
                self.response.close()
        finally:
            self._drop_rest_of_body()

    def _drop_rest_of_body(self):
        deadline = time.monotonic() + LINGER_SECONDS
        previous_timeout = self.sock.gettimeout()
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                if not self.body.read(LINGER_READ_BYTES):
                    return
        except Exception:
            return  # a stalled, vanished or garbled client: the connection closes all the same
        finally:
            self.sock.settimeout(previous_timeout)
