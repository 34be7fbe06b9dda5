"""The benchmark: the app against the fake Ollama server, next to the same work done directly.

Run it with `make bench` (or `python -m bench.run`); see docs/performance.md.
"""
