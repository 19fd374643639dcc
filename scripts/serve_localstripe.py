#!/usr/bin/env python3
"""Serve localstripe (a stateful fake of the Stripe API, from PyPI) on 127.0.0.1 only.

Usage: serve_localstripe.py PORT

localstripe's own entry point binds every interface and reloads state from a fixed file;
this starts its aiohttp application on the loopback address with empty state instead.
"""

import sys

from aiohttp import web
from localstripe.server import app


def main() -> None:
    port = int(sys.argv[1])
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
