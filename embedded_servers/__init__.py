"""PostgreSQL and Redis from PyPI wheels, for the quickstart and the test suite.

``python -m embedded_servers run -- COMMAND`` starts both servers (data under
``var/``), runs COMMAND with ``DATABASE_URL`` and ``REDIS_URL`` pointing at them,
and stops them when COMMAND ends. ``python -m embedded_servers test -- COMMAND``
does the same in a temporary folder that is removed afterwards. A URL already
set in the environment (``DATABASE_URL``/``REDIS_URL``, or ``TEST_DATABASE_URL``/
``TEST_REDIS_URL`` for ``test``) is used instead of starting that server.

A development and test tool, like the Stripe emulator: the portal imports only
``embedded_servers.layout`` (to default its URLs to the quickstart's sockets).
"""
