"""Aksara doctor: diagnostics and the production policy, as small registered checks."""

#: Seconds to wait for the server before declaring it unreachable. Defined here, not in
#: ``probe`` (which imports psycopg), so that building the CLI parser stays light.
DEFAULT_CONNECT_TIMEOUT = 5
