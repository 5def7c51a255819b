"""A second process for the propagation benchmark: polls a toggle every
millisecond and prints the wall-clock time whenever the answer changes.

    python -m bench.probe ours <org id> <capability key>
    python -m bench.probe waffle <flag name>
"""

from __future__ import annotations

import os
import sys
import time


def main(mode: str, *args: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    if mode == "ours":
        from capabilities import is_enabled

        org_id, key = int(args[0]), args[1]

        def check() -> bool:
            return is_enabled(org_id, key)
    else:
        from django.contrib.auth.models import AnonymousUser
        from django.test import RequestFactory
        from waffle import flag_is_active

        request = RequestFactory().get("/")
        request.user = AnonymousUser()

        def check() -> bool:
            return bool(flag_is_active(request, args[0]))

    last = check()
    print(f"ready {int(last)}", flush=True)
    while True:
        state = check()
        if state != last:
            print(f"{time.time():.6f} {int(state)}", flush=True)
            last = state
        time.sleep(0.001)


if __name__ == "__main__":
    main(sys.argv[1], *sys.argv[2:])
