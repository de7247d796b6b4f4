#!/usr/bin/env python3
"""Prints a free TCP port on 127.0.0.1, or with --check PORT exits 0 once something listens there."""
import socket
import sys

if len(sys.argv) == 3 and sys.argv[1] == "--check":
    with socket.socket() as s:
        s.settimeout(0.5)
        sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[2]))) == 0 else 1)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
