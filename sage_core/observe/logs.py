"""Structured logs with job and operator names, and secrets masked before anything is logged.

Every SAGE logger lives under ``sage`` (``sage.job``, ``sage.<job>.<operator>`` for
``self.ctx.logger`` inside functions) and carries ``job`` / ``operator`` fields. Each of
them masks secrets in the message, its arguments and its traceback: values of environment
variables named like ``*_API_KEY``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, bearer
tokens, ``sk-...`` keys, ``key=value`` pairs with such names and passwords in URLs. Dead
letters and job errors are masked the same way.

Example::

    configure_logging(json=True)     # one JSON object per line on stderr
    self.ctx.logger.info("called %s", url)   # inside a function: job and operator attached

    >>> redact("POST https://u:hunter22@api.example/v1 Authorization: Bearer abc.def")
    'POST https://u:***@api.example/v1 Authorization: Bearer ***'
    >>> redact("retry with api_key=sk-live-1234567890abcdef")
    'retry with api_key=***'
"""

from __future__ import annotations

import json as _json
import logging
import os
import re
import sys
from typing import Any

__all__ = ["SecretFilter", "configure_logging", "operator_logger", "redact"]

_SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (re.compile(r"(?i)\b([\w-]*(?:api[_-]?key|token|secret|password|passwd))(\"?'?\s*[:=]\s*\"?'?)[^\s\"',;}&]+"), r"\1\2***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "***"),
    (re.compile(r"(://[^/\s:@]+):[^/\s@]+@"), r"\1:***@"),
)


def _env_secrets() -> list[str]:
    values = [v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6]
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with secrets replaced by ``***`` (see the module docstring for what counts)."""
    for value in _env_secrets():
        text = text.replace(value, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretFilter(logging.Filter):
    """Masks secrets in a log record (message, arguments, traceback) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = SecretFilter()


def sage_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with secrets masked in everything it logs."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def operator_logger(job: str, operator: str) -> logging.LoggerAdapter:
    """The logger of one operator: ``sage.<job>.<operator>``, records carry both names."""
    return logging.LoggerAdapter(sage_logger(f"sage.{job}.{operator}"), {"job": job, "operator": operator})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, job, operator, message (and error)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "job": getattr(record, "job", None),
            "operator": getattr(record, "operator", None),
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return _json.dumps({k: v for k, v in entry.items() if v is not None}, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        where = ".".join(str(p) for p in (getattr(record, "job", None), getattr(record, "operator", None)) if p)
        record.where = f" [{where}]" if where else ""
        return super().format(record)


def configure_logging(level: int | str = "INFO", *, json: bool = False, stream: Any = None) -> logging.Handler:
    """Send SAGE's logs (the ``sage`` logger tree) to ``stream`` (stderr), as text or JSON
    lines, with secrets masked. Returns the handler (remove it to undo)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_FILTER)
    handler.setFormatter(JsonFormatter() if json else _TextFormatter("%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s"))
    root = logging.getLogger("sage")
    root.addHandler(handler)
    root.setLevel(level)
    return handler
