"""`tuneui serve`: the same app in a web browser, through textual-serve.

Each browser tab gets its own `tuneui` process. Access needs the random token in the URL printed at
start (new every start, like Jupyter's), and every websocket's Origin must be this server's own
(tuneui.commands.serve_guard), so neither another user of the machine nor a web page on another
site can drive the app. The default is still loopback only; reach a remote GPU machine through an
SSH tunnel rather than an open port.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import subprocess
import sys

from tuneui.contract.errors import TuneuiError

DEFAULT_PORT = 8000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the app in a web browser (for GPU machines you reach over SSH)",
        description=(
            "Serve the tuneui app over HTTP with textual-serve; open the printed URL in a browser. "
            "Binds to localhost by default. From a laptop, tunnel to a remote machine with "
            "`ssh -L 8000:localhost:8000 gpu-box` and open http://localhost:8000."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 picks a free one)"
    )
    parser.add_argument("--demo", action="store_true", help="start the app with the offline demo loaded")
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL browsers use when it differs from http://HOST:PORT (reverse proxy, tunnel)",
    )
    parser.set_defaults(func=run)


def app_command(demo: bool = False) -> str:
    """The shell command textual-serve runs per browser session: this interpreter's tuneui."""
    argv = [sys.executable, "-m", "tuneui"] + (["--demo"] if demo else [])
    if sys.platform.startswith("win"):
        return subprocess.list2cmdline(argv)
    import shlex

    return shlex.join(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def claim_port(host: str, port: int) -> int:
    """Check the port is free (0: find a free one) so the user gets a clear error, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except socket.gaierror as exc:
            raise TuneuiError(f"--host {host}: not an address of this machine ({exc.strerror})") from exc
        except OSError as exc:
            raise TuneuiError(
                f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port"
            ) from exc
        return sock.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise TuneuiError(f"--port {args.port}: must be between 0 and 65535")
    try:
        from tuneui.commands.serve_guard import GuardedServer, allowed_origins, new_token
    except ImportError as exc:
        raise TuneuiError("browser mode needs textual-serve: pip install textual-serve") from exc

    port = claim_port(args.host, args.port)
    if not is_loopback(args.host):
        print(
            f"tuneui: warning: listening on {args.host}: anyone who can reach port {port} and has the URL "
            "below can use this app (and your GPU and files), over plain HTTP. Prefer the default "
            f"127.0.0.1 and an SSH tunnel: ssh -L {port}:localhost:{port} THIS-MACHINE",
            file=sys.stderr,
        )
    display_host = f"[{args.host}]" if ":" in args.host else args.host
    public_url = (args.public_url or f"http://{display_host}:{port}").rstrip("/")
    server = GuardedServer(app_command(args.demo), host=args.host, port=port, title="tuneui", public_url=public_url,
                           token=new_token(), origins=allowed_origins(public_url, args.host, port,
                                                                      is_loopback(args.host)))
    print(f"tuneui: open {server.open_url()} in a browser (Ctrl+C to stop)", flush=True)
    server.serve()
    return 0
