"""`python -m wiro.simulator`: serve the Wiro simulator until interrupted."""
from __future__ import annotations

import argparse
import os
import secrets

import uvicorn

from .server import create_app
from .state import SimulatorState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wiro.simulator",
                                     description="A local simulator of Wiro's API for "
                                                 "FLUX.2 [pro].")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--pace", type=float, default=1.0,
                        help="schedule speed: 1.0 is a ~6 s run, 0 finishes at once")
    parser.add_argument("--api-key", default=os.environ.get("WIRO_API_KEY") or None,
                        help="default: $WIRO_API_KEY")
    parser.add_argument("--api-secret", default=os.environ.get("WIRO_API_SECRET") or None,
                        help="default: $WIRO_API_SECRET; none means an API-key-only project")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    key, secret = args.api_key, args.api_secret
    if not key and not secret:
        key, secret = secrets.token_hex(16), secrets.token_hex(32)
        print("No WIRO_API_KEY / WIRO_API_SECRET given: using a random key and secret "
              "(set both, or pass --api-key/--api-secret, to choose your own).")
    elif not key:
        raise SystemExit("An API secret was given without an API key (set WIRO_API_KEY).")
    mode = "signature" if secret else "API key only"
    root = f"http://{args.host}:{args.port}"
    state = SimulatorState(key, secret, pace=args.pace, public_base_url=root)
    print(f"Wiro simulator ({mode} auth, pace {args.pace:g}) at {root}/v1, "
          f"task updates at ws://{args.host}:{args.port}/v1")
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning",
                lifespan="off")


if __name__ == "__main__":
    main()
