"""Optional HTTP health endpoint of a worker: ``GET /health`` returns its health JSON.

On when ``ECM_INGEST_HEALTH_PORT`` > 0 (worker i listens on port + i, loopback only). Status 200 when
the worker is connected to the broker and its spool is below the alarm level, else 503.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HealthServer:
    def __init__(self, worker, port: int):
        self.worker = worker

        class Handler(BaseHTTPRequestHandler):
            def do_GET(h):  # noqa: N805
                if h.path.rstrip("/") not in ("/health", ""):
                    h.send_error(404)
                    return
                w = self.worker
                ok = bool(w.client and w.client.is_connected()) and not w.spool.alarm
                body = json.dumps({"worker": w.client_id, "ok": ok, "connected": bool(w.client and w.client.is_connected()),
                                   "inbox": len(w.inbox), "spool_bytes": w.spool.n_bytes,
                                   "stats": w.stats.snapshot(reset=False)}).encode()
                h.send_response(200 if ok else 503)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

            def log_message(h, *args):  # noqa: N805 - quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="ingest-health", daemon=True)

    @classmethod
    def start(cls, worker, port: int) -> "HealthServer":
        srv = cls(worker, port)
        srv.thread.start()
        return srv

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
