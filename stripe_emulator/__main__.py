"""``python -m stripe_emulator --host 127.0.0.1 --port 12111 --webhook-url ... --webhook-secret whsec_...
[--state-file var/stripe-emulator.json]``"""

import argparse
import signal
import sys
from types import FrameType

from stripe_emulator.server import EmulatorServer
from stripe_emulator.state_file import DEFAULT_INTERVAL_SECONDS, StateFileError


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (honcho, systemd, ``Popen.terminate``) stops like Ctrl-C: through the last save."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_emulator", description="Offline Stripe API emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111, help="0 picks a free port")
    parser.add_argument("--webhook-url", default="", help="where events are POSTed")
    parser.add_argument(
        "--webhook-secret", default="", help="endpoint secret (whsec_...) for Stripe-Signature"
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--summary-delay-seconds", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    parser.add_argument(
        "--state-file",
        default=None,
        help="keep the state in this JSON file across restarts (loaded at start, saved as it changes)",
    )
    parser.add_argument(
        "--save-interval-ms",
        type=int,
        default=int(DEFAULT_INTERVAL_SECONDS * 1000),
        help="with --state-file: how often, at most, meter events are saved (other writes are saved "
        "before they are answered)",
    )
    args = parser.parse_args(argv)
    try:
        server = EmulatorServer(
            args.host,
            args.port,
            quiet=args.quiet,
            state_file=args.state_file,
            save_interval=args.save_interval_ms / 1000,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            latency_ms=args.latency_ms,
            summary_delay_seconds=args.summary_delay_seconds,
            seed=args.seed,
        )
    except StateFileError as exc:
        sys.stderr.write(f"stripe_emulator: {exc}\n")
        sys.exit(2)
    signal.signal(signal.SIGTERM, _stop)
    print(f"Stripe emulator listening on {server.url}", flush=True)
    if args.state_file:
        origin = "loaded from" if server.loaded_state else "new, in"
        sys.stderr.write(f"Stripe emulator state: {origin} {args.state_file}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # honcho sends SIGTERM right after the terminal's SIGINT: neither may cut the last save short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            server.close()
        except StateFileError as exc:
            sys.stderr.write(f"stripe_emulator: {exc}\n")
            sys.exit(1)
        finally:
            sys.stderr.flush()


if __name__ == "__main__":
    main()
