"""`ecm credentials rotate E` (issue #15, onboarding): applied live through the dynamic-security
plugin; the old password is refused at once, a session using it is disconnected, the new one works."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ecm.mqtt import gateway_client_id, make_client

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def _connect(stack, user: str, password: str):
    c = make_client(gateway_client_id(user), user, password)
    got: dict = {}
    ev = threading.Event()
    c.on_connect = lambda cl, u, f, rc, p: (got.__setitem__("rc", rc.value), ev.set())
    c.on_disconnect = lambda cl, u, f, rc, p: got.setdefault("disconnected", rc.value)
    c.connect(stack.mqtt_host, stack.mqtt_port)
    c.loop_start()
    ev.wait(10)
    return c, got


def test_rotate_refuses_the_old_password_at_once_and_disconnects_its_session(stack):
    old = stack.mqtt_password("e16")
    live, got = _connect(stack, "e16", old)
    assert got["rc"] == 0
    r = subprocess.run([str(BIN / "ecm"), "credentials", "rotate", "e16"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    creds = json.loads(r.stdout)
    new = creds["password"]
    assert new != old and new == stack.mqtt_password("e16") and creds["client_id"] == "e16-gw"
    deadline = time.monotonic() + 5
    while "disconnected" not in got and time.monotonic() < deadline:
        time.sleep(0.05)
    live.loop_stop()
    assert "disconnected" in got, "the session using the old password must be disconnected"
    c, g = _connect(stack, "e16", old)
    c.loop_stop()
    assert g["rc"] == 0x86 or g["rc"] == 0x87  # bad user name or password / not authorized
    c, g = _connect(stack, "e16", new)
    info = c.publish("ecm/v1/e16/e16_elec_main/status", "online", qos=1)
    info.wait_for_publish(5)
    c.disconnect()
    c.loop_stop()
    assert g["rc"] == 0 and info.is_published()
    bad = subprocess.run([str(BIN / "ecm"), "credentials", "rotate", "e99"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "unknown enterprise" in bad.stderr
