"""A small JSON API on 127.0.0.1 for the HTTP source tests: three paging styles over ``ITEMS``.

``/links?offset=&limit=`` puts the next page's URL in the body, ``/cursor?cursor=`` a cursor,
``/header?offset=`` a ``Link: <...>; rel="next"`` header. The first ``fail_first`` requests
get HTTP 503 with ``Retry-After: 0``; every request path is recorded in ``requests``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ITEMS = [{"id": i, "name": f"item{i}"} for i in range(7)]


class ApiServer:
    """A JSON API on 127.0.0.1 with three paging styles; ``fail_first`` requests get a 503."""

    def __init__(self):
        self.requests: list[str] = []
        self.items = list(ITEMS)  # append to it to grow the feed
        self.fail_first = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, code, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append(self.path)
                if api.fail_first > 0:
                    api.fail_first -= 1
                    self._json(503, {"error": "busy"}, [("Retry-After", "0")])
                    return
                start, size = int(q.get("offset", q.get("cursor", 0))), int(q.get("limit", 3))
                page = api.items[start : start + size]
                more = start + size < len(api.items)
                if url.path == "/links":
                    self._json(200, {"data": page, "next": f"/links?offset={start + size}&limit={size}" if more else None})
                elif url.path == "/cursor":
                    self._json(200, {"results": {"items": page}, "meta": {"cursor": str(start + size) if more else ""}})
                elif url.path == "/header":
                    link = [("Link", f'<http://127.0.0.1:{api.port}/header?offset={start + size}>; rel="next"')] if more else []
                    self._json(200, page, link)
                else:
                    self._json(404, {"error": "no such route"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
