"""Run the fake by hand or for the benchmark: python -m tests.fake_ollama --port 11435."""

from __future__ import annotations

import argparse

from tests.fake_ollama.scripts import Script, markdown_tokens
from tests.fake_ollama.server import FakeOllama


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_ollama", description="Run the fake Ollama server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11435)
    parser.add_argument("--delay", type=float, default=0.04, help="seconds between tokens")
    parser.add_argument("--pull-delay", type=float, default=0.2, help="seconds between lines of a pull")
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        help="make every unscripted reply this many tokens of --token-text (default: a short Markdown answer)",
    )
    parser.add_argument("--token-text", default=" word", help="the text of each token with --tokens")
    parser.add_argument(
        "--markdown", action="store_true", help="with --tokens, the tokens of a long Markdown reply instead"
    )
    parser.add_argument(
        "--backlog", type=int, default=None, help="listen backlog, for many connections opened at once"
    )
    parser.add_argument(
        "--nodelay", action="store_true", help="send each line at once (TCP_NODELAY), as Ollama's server does"
    )
    args = parser.parse_args()
    fake = FakeOllama(args.host, args.port, default_delay=args.delay, pull_delay=args.pull_delay)
    if args.backlog:
        fake.server.socket.listen(args.backlog)
    if args.nodelay:
        fake.server.RequestHandlerClass.disable_nagle_algorithm = True
    if args.tokens is not None:
        count = max(args.tokens, 1)
        tokens = markdown_tokens(count) if args.markdown else [args.token_text] * count
        fake.default_script = lambda request: Script(tokens=list(tokens), delay=fake.default_delay)
    print(f"Fake Ollama listening on {fake.url} (Ctrl+C to stop)", flush=True)
    try:
        fake.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
