"""A fake Ollama server on a real loopback port, scripted by tests.

It follows Ollama's HTTP API as documented: NDJSON streaming with a final stats
chunk, the request checks Ollama makes and their statuses, errors before any
output as a real status, errors after it as one more NDJSON line, and Gin's
plain-text 404 and 405. Tests queue replies with `enqueue_*` and read back what
it received in `requests`. Given `tools`, a trigger in the user's message such as
`[[tool:calculator {"expression": "6*7"}]]` makes it call that tool, then echo
the results it is sent back (see `server.py`, next to `_TOOL_TRIGGER`).

By hand, for a demo without Ollama:  python -m tests.fake_ollama --port 11435
"""

from tests.fake_ollama.catalog import DEFAULT_MODELS, LIBRARY, running_model
from tests.fake_ollama.go_json import Body, dumps
from tests.fake_ollama.handler import ROUTES
from tests.fake_ollama.rules import (
    FLOAT_OPTIONS,
    INT_OPTIONS,
    THINK_LEVELS,
    Rejected,
    decode,
    format_error,
    go_duration,
    keep_alive_seconds,
    option_error,
)
from tests.fake_ollama.scripts import Recorded, Script
from tests.fake_ollama.server import FakeOllama, tool_call

__all__ = [
    "DEFAULT_MODELS",
    "FLOAT_OPTIONS",
    "INT_OPTIONS",
    "LIBRARY",
    "ROUTES",
    "THINK_LEVELS",
    "Body",
    "FakeOllama",
    "Recorded",
    "Rejected",
    "Script",
    "decode",
    "dumps",
    "format_error",
    "go_duration",
    "keep_alive_seconds",
    "option_error",
    "running_model",
    "tool_call",
]
