"""Broker tenancy by construction: Mosquitto's dynamic-security configuration from the registry.

The plain ``acl_file`` never checks subscriptions, so an enterprise could join the bridge's
``$share/ingest/...`` group and be dealt (then denied) other tenants' messages, and any user could
connect with any client id and take over the bridge's session. The dynamic-security plugin shipped
with Mosquitto 2.0 (``mosquitto_dynamic_security.so``) checks both. This module builds its JSON
config from the registry and the generated secrets:

- default access: publish-send **deny**, publish-receive **deny**, subscribe **deny**
  (``$share/...`` included), unsubscribe allow;
- role ``ent_<E>``: ``publishClientSend ecm/v1/<E>/#`` only. Every gateway principal of E holds it;
- gateway principals: username ``<E>`` **bound to client id** ``<E>-gw``, and optional extra gateways
  ``<E>-<name>`` (enterprise ids have no ``-``) bound to client id ``<E>-<name>``
  (``ecm.mqtt.gateway_client_id``), so no principal can use the bridge's ids (``ingest-<i>``) nor
  another gateway's;
- role ``ingest``: subscribe and receive ``ecm/v1/#`` (plain or ``$share/ingest/...``); the
  ``ingest`` principal is the only one not bound to a client id (it runs N workers ``ingest-<i>``),
  and no enterprise principal can take an ``ingest-*`` id because each is bound to its own;
- principal ``ecm-admin`` (role ``dynsec_admin``): the ``$CONTROL/dynamic-security/#`` API, used
  for live changes (``ecm credentials``) without a broker restart.

Password hashes are the plugin's own format: PBKDF2-HMAC-SHA512, 12-byte salt, 101 iterations,
base64 (checked against ``mosquitto_ctrl dynsec init``).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as _secrets
import threading
import time
import uuid
from pathlib import Path

from ecm.errors import ServiceError
from ecm.mqtt import TOPIC_ROOT, gateway_client_id

PLUGIN_PATHS = ("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
                "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
                "/usr/lib/mosquitto_dynamic_security.so")
ADMIN_USER = "ecm-admin"
INGEST_ROLE = "ingest"
ADMIN_ROLE = "dynsec_admin"
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
ITERATIONS = 101


def plugin_path() -> str:
    for p in PLUGIN_PATHS:
        if os.path.exists(p):
            return p
    raise ServiceError("mosquitto_dynamic_security.so not found", hint="apt-get install -y mosquitto (2.0+)")


def enterprise_role(enterprise_id: str) -> str:
    return f"ent_{enterprise_id}"


def principal_enterprise(username: str) -> str:
    """Enterprise of a gateway principal: ``e01`` and ``e01-gw2`` both belong to ``e01``."""
    return username.split("-", 1)[0]


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> dict:
    salt = salt if salt is not None else _secrets.token_bytes(12)
    h = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return {"password": base64.b64encode(h).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": iterations}


def _acl(acltype: str, topic: str, allow: bool = True) -> dict:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": allow}


def enterprise_role_doc(enterprise_id: str) -> dict:
    return {"rolename": enterprise_role(enterprise_id), "textname": f"gateways of {enterprise_id}",
            "acls": [_acl("publishClientSend", f"{TOPIC_ROOT}/{enterprise_id}/#")]}


def _roles(enterprise_ids: list[str], share_group: str) -> list[dict]:
    ingest = {"rolename": INGEST_ROLE, "textname": "ingest bridge: reads every enterprise's topics",
              "acls": [_acl("subscribePattern", f"{TOPIC_ROOT}/#"),
                       _acl("subscribePattern", f"$share/{share_group}/{TOPIC_ROOT}/#"),
                       _acl("publishClientReceive", f"{TOPIC_ROOT}/#")]}
    admin = {"rolename": ADMIN_ROLE, "textname": "dynamic-security administration only",
             "acls": [_acl("publishClientSend", "$CONTROL/dynamic-security/#"),
                      _acl("publishClientReceive", "$CONTROL/dynamic-security/#"),
                      _acl("subscribePattern", "$CONTROL/dynamic-security/#")]}
    return [ingest, admin, *(enterprise_role_doc(e) for e in enterprise_ids)]


def principals(mqtt_secrets: dict[str, str], enterprise_ids: list[str], disabled: frozenset[str] = frozenset(),
               ingest_user: str = "ingest") -> list[tuple[str, str, str | None, str]]:
    """``[(username, password, bound client id or None, role)]`` of every broker principal."""
    ents = set(enterprise_ids)
    out = []
    for user, pw in sorted(mqtt_secrets.items()):
        if user == ingest_user:
            out.append((user, pw, None, INGEST_ROLE))
        elif user == ADMIN_USER:
            out.append((user, pw, None, ADMIN_ROLE))
        elif principal_enterprise(user) in ents and principal_enterprise(user) not in disabled:
            out.append((user, pw, gateway_client_id(user), enterprise_role(principal_enterprise(user))))
    return out


def client_doc(username: str, password: str, clientid: str | None, role: str) -> dict:
    d = {"username": username, "textname": "", "roles": [{"rolename": role, "priority": 0}],
         **hash_password(password)}
    if clientid:
        d["clientid"] = clientid
    return d


def build_config(mqtt_secrets: dict[str, str], enterprise_ids: list[str], *, share_group: str = "ingest",
                 disabled: frozenset[str] = frozenset(), ingest_user: str = "ingest") -> dict:
    """The plugin's whole JSON document (a pure function of the registry and secrets)."""
    return {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
        "clients": [client_doc(*p) for p in principals(mqtt_secrets, enterprise_ids, disabled, ingest_user)],
        "groups": [],
        "roles": _roles(enterprise_ids, share_group),
    }


def write_config(path: Path, doc: dict) -> None:
    """Write atomically, mode 0600 (it holds password hashes)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=1)
    os.replace(tmp, path)


class DynsecControl:
    """Live changes through the plugin's ``$CONTROL/dynamic-security/v1`` API, as ``ecm-admin``."""

    def __init__(self, host: str, port: int, password: str, timeout_s: float = 10.0):
        from ecm.mqtt import make_client

        self.timeout_s = timeout_s
        self._resp: dict = {}
        self._cv = threading.Condition()
        ready = threading.Event()
        self.c = make_client(f"{ADMIN_USER}-{uuid.uuid4().hex[:8]}", ADMIN_USER, password)
        self.c.on_connect = lambda c, u, f, rc, p: (None if rc.is_failure else
                                                    c.subscribe(CONTROL_TOPIC + "/response", qos=1))
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.on_message = self._on_message
        self.c.connect(host, port, keepalive=30)
        self.c.loop_start()
        if not ready.wait(timeout_s):
            self.close()
            raise ServiceError(f"dynamic-security control: cannot connect as {ADMIN_USER} to {host}:{port}")

    def _on_message(self, client, userdata, msg) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            return
        with self._cv:
            for r in doc.get("responses", []):
                self._resp[r.get("correlationData")] = r
            self._cv.notify_all()

    def run(self, commands: list[dict], ok_errors: tuple[str, ...] = ()) -> list[dict]:
        """Send ``commands``; return their responses; raise on an error not in ``ok_errors``."""
        ids = []
        for cmd in commands:
            cid = uuid.uuid4().hex
            ids.append(cid)
            cmd["correlationData"] = cid
        self.c.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1).wait_for_publish(self.timeout_s)
        deadline = time.monotonic() + self.timeout_s
        with self._cv:
            while not all(i in self._resp for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServiceError("dynamic-security control: no response from the broker")
                self._cv.wait(left)
            out = [self._resp.pop(i) for i in ids]
        for cmd, r in zip(commands, out):
            err = r.get("error")
            if err and not any(e in err for e in ok_errors):
                raise ServiceError(f"dynamic-security {cmd['command']}: {err}")
        return out

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


# -- onboarding and offboarding, live (``ecm enterprise add|disable``) -------------------------------

def add_enterprise_live(ctl: DynsecControl, enterprise_id: str, password: str) -> list[str]:
    """Create ``ent_<E>`` (publish ``ecm/v1/<E>/#`` only) and principal ``<E>`` bound to client id
    ``<E>-gw`` in the running broker; idempotent: an existing role keeps its ACL reset to the one
    above, an existing principal gets ``password``, the role, and is enabled. Returns what was done."""
    done = []
    role = enterprise_role_doc(enterprise_id)
    r = ctl.run([{"command": "createRole", "rolename": role["rolename"], "textname": role["textname"],
                  "acls": role["acls"]}], ok_errors=("already exists",))[0]
    if r.get("error"):  # exists: make its ACL exactly the tenant's
        have = ctl.run([{"command": "getRole", "rolename": role["rolename"]}])[0]
        for acl in have.get("data", {}).get("role", {}).get("acls", []):
            ctl.run([{"command": "removeRoleACL", "rolename": role["rolename"], "acltype": acl["acltype"],
                      "topic": acl["topic"]}])
        ctl.run([{"command": "addRoleACL", "rolename": role["rolename"], **a} for a in role["acls"]])
        done.append(f"role {role['rolename']} reset")
    else:
        done.append(f"role {role['rolename']} created")
    user = enterprise_id
    r = ctl.run([{"command": "createClient", "username": user, "password": password,
                  "clientid": gateway_client_id(user), "textname": f"gateway of {enterprise_id}",
                  "roles": [{"rolename": role["rolename"], "priority": 0}]}], ok_errors=("already exists",))[0]
    if r.get("error"):  # exists: its password, bound client id, and the tenant's role ONLY
        got = ctl.run([{"command": "getClient", "username": user}])[0]
        roles = {x.get("rolename") for x in got.get("data", {}).get("client", {}).get("roles", [])}
        cmds = [{"command": "setClientPassword", "username": user, "password": password},
                {"command": "setClientId", "username": user, "clientid": gateway_client_id(user)}]
        # (Mosquitto 2.0.11 answers "Internal error" to adding a role the client already has)
        cmds += [{"command": "removeClientRole", "username": user, "rolename": x} for x in sorted(roles - {role["rolename"]})]
        if role["rolename"] not in roles:
            cmds.append({"command": "addClientRole", "username": user, "rolename": role["rolename"], "priority": 0})
        ctl.run([*cmds, {"command": "enableClient", "username": user}])
        done.append(f"client {user} updated and enabled")
    else:
        done.append(f"client {user} created")
    return done


def enterprise_principals_live(ctl: DynsecControl, enterprise_id: str) -> list[str]:
    """Usernames in the running broker that belong to ``enterprise_id`` (``E`` and ``E-<name>``)."""
    have = ctl.run([{"command": "listClients", "verbose": False, "count": -1, "offset": 0}])[0]
    return sorted(u for u in have.get("data", {}).get("clients", [])
                  if u not in (ADMIN_USER, INGEST_ROLE) and principal_enterprise(u) == enterprise_id)


def disable_enterprise_live(ctl: DynsecControl, enterprise_id: str) -> list[str]:
    """Disable every principal of ``enterprise_id``: the plugin refuses its next CONNECT and kicks
    the sessions it has now. Returns the usernames disabled."""
    users = enterprise_principals_live(ctl, enterprise_id)
    if users:
        ctl.run([{"command": "disableClient", "username": u} for u in users])
    return users
