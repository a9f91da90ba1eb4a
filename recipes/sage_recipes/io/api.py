"""An HTTP source: GET a JSON API page by page (next link, cursor or ``Link`` header).

:class:`HttpJsonSource` is a :class:`~sage_core.api.functions.SourceFunction` for
``env.from_source(HttpJsonSource, url, ...)``. It requests ``url`` with httpx, takes the
records from the JSON body (``items_key``, a dotted path; ``None`` when the body is the
list itself), and finds the next page in one of three ways:

- ``next_key="next"``: the body holds the URL of the next page (absolute or relative);
- ``next_key="meta.cursor", cursor_param="cursor"``: the body holds a cursor that is sent
  as the ``cursor`` query parameter of the next request;
- neither given: the ``Link: <...>; rel="next"`` response header (GitHub style).

The stream ends when a page has no next page, unless ``poll_interval`` is set: then the
source tails the feed, asking for that last page again every ``poll_interval`` seconds and
emitting only the records beyond those it already emitted from it (for append-only feeds;
it follows a next page when one appears). A polling source runs until the job is
cancelled. Connection errors, timeouts, 429 and 5xx
responses are retried ``max_retries`` times with exponential backoff (``backoff`` seconds,
doubled each time, or the server's ``Retry-After``); any other error status, a body that
is not JSON, or a missing ``items_key`` stops the job with an error naming the URL.

The position (the next request and the records of the current page not yet emitted) is
part of every checkpoint: a resumed job asks for the page it was on, not the first one.

Example::

    env.from_source(HttpJsonSource, "https://api.example.com/v1/items", items_key="data",
                    next_key="next", params={"limit": 100}, headers={"Authorization": "Bearer ..."})
"""

from __future__ import annotations

import time
from typing import Any

from sage_core.api.functions import SourceFunction, StopSignal

__all__ = ["HttpJsonSource", "dig"]

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def dig(body: Any, path: str | None, *, where: str = "response") -> Any:
    """``body["a"]["b"]`` for ``path="a.b"``; ``None`` path returns ``body``.

    >>> dig({"a": {"b": [1]}}, "a.b")
    [1]
    >>> dig({"a": {}}, "a.b", where="GET /items")
    Traceback (most recent call last):
    ...
    KeyError: "GET /items: the JSON body has no 'a.b' (keys at 'a': [])"
    """
    if path is None:
        return body
    node = body
    walked: list[str] = []
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            keys = sorted(node) if isinstance(node, dict) else type(node).__name__
            at = ".".join(walked) or "the top"
            msg = f"{where}: the JSON body has no {path!r} (keys at {at!r}: {keys})"
            raise KeyError(msg)
        node = node[part]
        walked.append(part)
    return node


class HttpJsonSource(SourceFunction):
    """Records from a paginated JSON API (see the module docstring for the paging modes).

    ``params`` and ``headers`` are sent with every request (``params`` only with the first
    when the next page is a full URL, which carries its own query). ``timeout`` is in
    seconds per request.
    """

    def __init__(
        self,
        url: str,
        *,
        items_key: str | None = "data",
        next_key: str | None = None,
        cursor_param: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        poll_interval: float | None = None,
    ):
        if cursor_param is not None and next_key is None:
            msg = "HttpJsonSource: cursor_param needs next_key (where the cursor is in the body)"
            raise ValueError(msg)
        self.url = url
        self.items_key = items_key
        self.next_key = next_key
        self.cursor_param = cursor_param
        self.params = dict(params or {})
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        if poll_interval is not None and poll_interval <= 0:
            msg = f"HttpJsonSource: poll_interval must be > 0 seconds or None, got {poll_interval!r}"
            raise ValueError(msg)
        self.poll_interval = poll_interval
        # position: the next request to make, and records of the last page not yet emitted
        self.next_request: tuple[str, dict[str, Any]] | None = (url, dict(self.params))
        self.pending: list[Any] = []
        self.pages = 0
        self.skip = 0  # records at the start of the next page that were emitted already
        self.last_page: tuple[str, dict[str, Any], int] | None = None  # (url, params, records) of a final page
        self._client: Any = None
        self._next_poll = 0.0

    def snapshot(self) -> dict[str, Any]:
        return {"next_request": self.next_request, "pending": list(self.pending), "pages": self.pages,
                "skip": self.skip, "last_page": self.last_page}

    def restore(self, state: dict[str, Any]) -> None:
        self.next_request = state["next_request"]
        self.pending = list(state["pending"])
        self.pages = state["pages"]
        self.skip = state.get("skip", 0)
        self.last_page = state.get("last_page")

    def open(self) -> None:
        try:
            import httpx
        except ImportError as exc:
            msg = "HttpJsonSource needs httpx; install with `pip install -e '.[io]'`"
            raise ImportError(msg) from exc
        self._client = httpx.Client(headers=self.headers, timeout=self.timeout, follow_redirects=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _get(self, url: str, params: dict[str, Any]) -> Any:
        """One GET with retries; returns the httpx response (status 2xx)."""
        import httpx

        if self._client is None:
            self.open()
        attempt = 0
        while True:
            try:
                resp = self._client.get(url, params=params or None)
                if resp.status_code not in RETRY_STATUS:
                    break
                problem = f"HTTP {resp.status_code}"
                wait = _retry_after(resp)
            except httpx.TransportError as exc:  # connection refused, reset, timeouts
                problem = f"{type(exc).__name__}: {exc}"
                wait = None
            if attempt >= self.max_retries:
                msg = f"HttpJsonSource: GET {url} failed after {attempt + 1} attempt(s): {problem}"
                raise ConnectionError(msg)
            time.sleep(wait if wait is not None else self.backoff * 2**attempt)
            attempt += 1
        if resp.is_error:
            msg = f"HttpJsonSource: GET {resp.request.url} returned HTTP {resp.status_code}: {resp.text[:200]!r}"
            raise RuntimeError(msg)
        return resp

    def _fetch(self) -> None:
        assert self.next_request is not None
        url, params = self.next_request
        resp = self._get(url, params)
        where = f"GET {resp.request.url}"
        try:
            body = resp.json()
        except ValueError as exc:
            msg = f"{where}: the response is not JSON ({resp.headers.get('content-type')}): {resp.text[:120]!r}"
            raise ValueError(msg) from exc
        items = dig(body, self.items_key, where=where)
        if not isinstance(items, list):
            msg = f"{where}: {self.items_key or 'the body'} is a {type(items).__name__}, expected a list of records; set items_key="
            raise TypeError(msg)
        self.pages += 1
        self.pending = list(items[self.skip :])
        self.skip = 0
        self.next_request = self._next(resp, body, url, params)
        self.last_page = (url, params, len(items)) if self.next_request is None else None

    def _next(self, resp: Any, body: Any, url: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if self.next_key is None:
            link = resp.links.get("next", {}).get("url")
            return (str(resp.url.join(link)), {}) if link else None
        value = dig(body, self.next_key) if _has(body, self.next_key) else None
        if value in (None, ""):
            return None
        if self.cursor_param is not None:
            return url, {**params, self.cursor_param: value}
        return str(resp.url.join(str(value))), {}

    def execute(self) -> Any:
        while not self.pending:
            if self.next_request is None:
                if self.poll_interval is None or self.last_page is None:
                    return StopSignal
                now = time.monotonic()
                if now < self._next_poll:
                    return None  # nothing new yet: SAGE polls again shortly
                self._next_poll = now + self.poll_interval
                url, params, self.skip = self.last_page
                self.next_request = (url, params)
                self._fetch()
                if not self.pending:
                    return None
                continue
            self._fetch()
        return self.pending.pop(0)


def _has(body: Any, path: str) -> bool:
    try:
        dig(body, path)
    except KeyError:
        return False
    return True


def _retry_after(resp: Any) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None
