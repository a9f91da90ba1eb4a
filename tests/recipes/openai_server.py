"""A small HTTP server on 127.0.0.1 that speaks OpenAI's ``POST /v1/chat/completions``.

It answers deterministically: ``ANSWER from <first [id] cited in the prompt>: <question>``,
records every request, can fail the first ``fail_first`` requests with HTTP 500, and
fails every request whose last message contains ``FAIL`` with HTTP 400.

``responder`` scripts the replies instead: a function from the request body to the
assistant message, e.g. ``tool_call("add", {"a": 1})`` to ask for a tool call, or
``{"content": "done"}`` for a final answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def tool_call(name: str, arguments: dict | str, call_id: str = "call_1", content: str | None = None) -> dict:
    """An assistant message that calls one tool (``arguments`` as a dict, or raw JSON text)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"content": content, "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}]}


class FakeOpenAIServer:
    def __init__(self, delay: float = 0.0, responder: Callable[[dict], dict] | None = None):
        self.responder = responder
        self.requests: list[dict] = []
        self.fail_first = 0
        self.reject: tuple[int, dict] | None = None  # (status, body) sent to every request
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                    failing = server.fail_first > 0
                    if failing:
                        server.fail_first -= 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay)
                    if server.reject is not None:
                        self._send(*server.reject)
                        return
                    if failing:
                        self._send(500, {"error": {"message": "temporary failure", "type": "server_error"}})
                        return
                    if server.responder is not None:
                        reply = server.responder(body)
                        message = {"role": "assistant", "content": reply.get("content")}
                        if reply.get("tool_calls"):
                            message["tool_calls"] = reply["tool_calls"]
                        self._send(200, {
                            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                            "model": body.get("model", "test"),
                            "choices": [{"index": 0, "message": message,
                                         "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop"}],
                        })
                        return
                    last = body["messages"][-1]["content"]
                    if "FAIL" in last:
                        self._send(400, {"error": {"message": "bad prompt", "type": "invalid_request_error"}})
                        return
                    cited = re.search(r"\[([^\]\s]+#\d+)\]", last)
                    question = re.search(r"Question: (.*)", last)
                    text = f"ANSWER from {cited.group(1) if cited else 'nothing'}: {question.group(1) if question else last}"
                    self._send(200, {
                        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model", "test"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": len(last.split()), "completion_tokens": len(text.split()),
                                  "total_tokens": len(last.split()) + len(text.split())},
                    })
                finally:
                    with server._lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
