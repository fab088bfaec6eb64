"""The stack's front server, in the role nginx plays in pretix's production setup: it serves
``STATIC_ROOT`` under ``/static/`` (as collected, ``Cache-Control: public``, one year) and
passes every other request to one gunicorn node, its body passed on as it streams.
Browsers and pages go through it; API clients and the benchmark talk to gunicorn directly.

    python -m tests.stack.front --port 8001 --upstream 127.0.0.1:8000 --static-root DIR
"""
import argparse
import http.client
import mimetypes
import os
import posixpath
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length",
}
# set by this server itself
OWN = HOP_BY_HOP | {"server", "date"}
STREAM_BYTES = 64 * 1024


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pretix-desk-stack-front"

    def log_message(self, format, *args):  # quiet: gunicorn logs the requests it answers
        pass

    def _dispatch(self):
        if urlsplit(self.path).path.startswith(self.server.static_url):
            self._static()
        else:
            self._proxy()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _static(self):
        if self.command not in ("GET", "HEAD"):
            return self._plain(405, b"static files are read-only\n")
        rel = posixpath.normpath(unquote(urlsplit(self.path).path)[len(self.server.static_url):])
        full = os.path.join(self.server.static_root, rel)
        if rel.startswith("..") or not os.path.isfile(full):
            return self._plain(404, b"not found\n")
        with open(full, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", mimetypes.guess_type(full)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=31536000")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)
        self.close_connection = True

    def _proxy(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=300)
        try:
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
            except OSError as e:
                return self._plain(502, "upstream: {}\n".format(e).encode())
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in OWN:
                    self.send_header(key, value)
            length = response.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
            # Without a length (a streamed body), the end of the body is the end of the connection.
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command == "HEAD":
                return
            # Passed on as it comes, as nginx does (its buffers fill and empty as the body
            # streams): a streamed download reaches the browser while it is rendered.
            while True:
                try:
                    data = response.read1(STREAM_BYTES)
                except OSError:
                    return  # the upstream broke off: so does the body, and the client sees it cut
                if not data:
                    return
                self.wfile.write(data)
        finally:
            upstream.close()

    def _plain(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of a gunicorn node")
    parser.add_argument("--static-root", required=True)
    parser.add_argument("--static-url", default="/static/")
    args = parser.parse_args(argv)
    host, port = args.upstream.rsplit(":", 1)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), FrontHandler)
    server.daemon_threads = True
    server.upstream = (host, int(port))
    server.static_root = os.path.abspath(args.static_root)
    server.static_url = args.static_url
    print("front listening on 127.0.0.1:{}".format(args.port), file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
