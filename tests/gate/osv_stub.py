"""A local OSV-compatible vulnerability service for pip-audit's ``--osv-url``.

pip-audit's ``--vulnerability-service osv --osv-url URL`` POSTs one query per
dependency (``{"package": {"name", "ecosystem"}, "version"}``) and reads
``{"vulns": [...]}`` (an empty object: no known vulnerability). The stub answers from
a table, or with HTTP 500 for names it is told to break, so tests can plant a
vulnerable and an unauditable dependency without the internet.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class OsvStub:
    """Vulnerabilities by canonical package name; ``broken`` names get HTTP 500."""

    vulnerable: dict[str, str] = field(default_factory=dict)  # name -> fixed version
    broken: set[str] = field(default_factory=set)
    queries: list[str] = field(default_factory=list)
    url: str = ""

    def answer(self, name: str, version: str) -> tuple[int, dict]:
        self.queries.append(name)
        if name in self.broken:
            return 500, {"error": "stub: service failure"}
        fixed = self.vulnerable.get(name)
        if fixed is None:
            return 200, {}
        vuln = {
            "id": f"PYSEC-2026-{abs(hash(name)) % 10000}",
            "aliases": [],
            "summary": f"planted vulnerability in {name}",
            "details": "planted by the release gate tests",
            "modified": "2026-11-25T00:00:00Z",
            "affected": [
                {
                    "package": {"name": name, "ecosystem": "PyPI"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }
        return 200, {"vulns": [vuln]}


def start_osv_stub(stub: OsvStub) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length", "0"))
            query = json.loads(self.rfile.read(length) or b"{}")
            name = _canonical(query.get("package", {}).get("name", ""))
            status, body = stub.answer(name, str(query.get("version", "")))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def running_osv_stub() -> Iterator[OsvStub]:
    """A started stub (its ``url`` set), shut down when the block ends."""
    stub = OsvStub()
    server = start_osv_stub(stub)
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
