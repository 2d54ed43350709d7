"""`ecm dashboards push` against a local stub of the few Grafana HTTP endpoints it uses
(Grafana cannot run here): folders, datasource lookup, POST /api/dashboards/db."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from ecm.cli.main import cli


class StubGrafana(BaseHTTPRequestHandler):
    token = "tok-123"
    folders: dict
    dashboards: dict
    annotations: dict
    calls: list

    def log_message(self, *a):  # quiet
        pass

    def _reply(self, code: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self._reply(401, {"message": "invalid API key"})
            return False
        return True

    def do_GET(self):
        self.calls.append(("GET", self.path))
        if not self._authorised():
            return
        if self.path.startswith("/api/folders/"):
            uid = self.path.rsplit("/", 1)[1]
            return self._reply(200, self.folders[uid]) if uid in self.folders else self._reply(404, {"message": "not found"})
        if self.path.startswith("/api/annotations?"):
            from urllib.parse import parse_qs, urlsplit

            want = parse_qs(urlsplit(self.path).query).get("tags", [])
            return self._reply(200, [{"id": i, **a} for i, a in self.annotations.items()
                                     if set(want) <= set(a["tags"])])
        if self.path == "/api/datasources/uid/ecm-influx":
            return self._reply(200, {"uid": "ecm-influx", "type": "influxdb"})
        self._reply(404, {"message": "not found"})

    def do_DELETE(self):
        self.calls.append(("DELETE", self.path))
        if not self._authorised():
            return
        aid = int(self.path.rsplit("/", 1)[1])
        if self.annotations.pop(aid, None) is None:
            return self._reply(404, {"message": "not found"})
        self._reply(200, {"message": "Annotation deleted"})

    def do_POST(self):
        self.calls.append(("POST", self.path))
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/api/folders":
            self.folders[body["uid"]] = body
            return self._reply(200, {"uid": body["uid"], "title": body["title"]})
        if self.path == "/api/annotations":
            aid = max(self.annotations, default=0) + 1
            self.annotations[aid] = {k: body[k] for k in ("time", "timeEnd", "tags", "text")}
            return self._reply(200, {"id": aid, "message": "Annotation added"})
        if self.path == "/api/dashboards/db":
            d = body["dashboard"]
            if body.get("folderUid") not in self.folders or not body.get("overwrite") or d.get("id") is not None:
                return self._reply(400, {"message": "bad request"})
            version = self.dashboards.get(d["uid"], {}).get("version", 0) + 1
            self.dashboards[d["uid"]] = {**body, "version": version}
            return self._reply(200, {"status": "success", "uid": d["uid"], "version": version,
                                     "url": f"/d/{d['uid']}"})
        self._reply(404, {"message": "not found"})


@pytest.fixture()
def grafana():
    handler = type("H", (StubGrafana,), {"folders": {}, "dashboards": {}, "annotations": {}, "calls": []})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    srv.shutdown()
    srv.server_close()


def test_push_uploads_every_board_into_the_folder(grafana):
    url, h = grafana
    res = CliRunner().invoke(cli, ["dashboards", "push", "--url", url, "--token", h.token])
    assert res.exit_code == 0, res.output
    assert set(h.dashboards) == {"ecm-district-overview", "ecm-enterprise-detail", "ecm-benchmarking",
                                 "ecm-ingest-health"}
    assert h.folders["ecm"]["title"].startswith("ECM")
    assert all(d["folderUid"] == "ecm" and d["dashboard"]["schemaVersion"] == 39 for d in h.dashboards.values())
    assert "ecm-district-overview" in res.output and "success" in res.output
    # second push: the folder exists, boards are overwritten with a new version
    res2 = CliRunner().invoke(cli, ["dashboards", "push", "--url", url, "--token", h.token])
    assert res2.exit_code == 0 and h.dashboards["ecm-benchmarking"]["version"] == 2
    assert [c for c in h.calls if c == ("POST", "/api/folders")] == [("POST", "/api/folders")]


def test_push_with_a_wrong_token_fails_with_one_line(grafana):
    url, h = grafana
    res = CliRunner().invoke(cli, ["dashboards", "push", "--url", url, "--token", "wrong"])
    assert res.exit_code == 1
    assert res.output.startswith(f"error: Grafana at {url} refused") and res.output.count("\n") == 1
    assert h.dashboards == {}


def test_push_to_nothing_listening_fails_cleanly():
    res = CliRunner().invoke(cli, ["dashboards", "push", "--url", "http://127.0.0.1:9", "--token", "x"])
    assert res.exit_code == 1 and res.output.startswith("error: cannot reach Grafana")


def test_push_writes_registry_events_as_annotations_once(grafana):
    """Retrofits (registry measures) and meters out of service become Grafana annotations tagged
    ecm-registry and the enterprise id; a second push replaces them (no duplicates); an annotation with
    other tags is left alone."""
    import pandas as pd

    from ecm.registry import get_registry

    url, h = grafana
    h.annotations[99] = {"time": 1, "timeEnd": 1, "tags": ["someone-else"], "text": "keep me"}
    for _ in range(2):
        res = CliRunner().invoke(cli, ["dashboards", "push", "--url", url, "--token", h.token])
        assert res.exit_code == 0, res.output
    reg = get_registry()
    ours = [a for a in h.annotations.values() if "ecm-registry" in a["tags"]]
    n_measures = sum(len(e.measures) for e in reg.enterprises)
    n_meters = sum(1 for e in reg.enterprises for m in e.meters if m.decommissioned)
    n_adj = sum(len(e.adjustments) for e in reg.enterprises)
    assert n_measures >= 5 and len(ours) == n_measures + n_meters + n_adj
    assert h.annotations[99]["text"] == "keep me"
    e01 = reg.enterprise("e01").measures[0]
    hit = [a for a in ours if "retrofit" in a["tags"] and "e01" in a["tags"]]
    assert hit and hit[0]["time"] == int(pd.Timestamp(e01.date).tz_localize("Asia/Shanghai").value // 10**6)
    assert e01.description_zh in hit[0]["text"]
    assert f"annotations: {len(ours)} registry events" in res.output
