"""``python -m stripe_emulator --host 127.0.0.1 --port 12111 --webhook-url ... --webhook-secret whsec_...``"""

import argparse
import sys

from stripe_emulator.server import EmulatorServer


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
    args = parser.parse_args(argv)
    server = EmulatorServer(
        args.host,
        args.port,
        quiet=args.quiet,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        latency_ms=args.latency_ms,
        summary_delay_seconds=args.summary_delay_seconds,
        seed=args.seed,
    )
    print(f"Stripe emulator listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
        sys.stderr.flush()


if __name__ == "__main__":
    main()
