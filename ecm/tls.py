"""The broker's TLS material, generated once under the state directory (``cryptography``).

``ensure_tls(dir)`` creates, if missing, a private CA (``ca.crt``, ``ca.key``) and a server
certificate signed by it (``server.crt``, ``server.key``; SANs ``localhost``, ``127.0.0.1``, the
host name and any ``extra_names``). Keys are mode 0600. Existing files are never replaced, so
gateways keep trusting the same ``ca.crt`` (hand it to each enterprise with its credentials).
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from pathlib import Path

CA_DAYS = 3650
SERVER_DAYS = 825


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def ensure_tls(directory: Path, extra_names: tuple[str, ...] = ()) -> dict[str, Path]:
    """Paths of ``cafile``, ``certfile``, ``keyfile`` (generated on first call only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    out = {"cafile": d / "ca.crt", "certfile": d / "server.crt", "keyfile": d / "server.key"}
    if all(p.exists() for p in out.values()):
        return out
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    pem = serialization.Encoding.PEM
    key_pem = dict(encoding=pem, format=serialization.PrivateFormat.PKCS8,
                   encryption_algorithm=serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecm"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "ecm MQTT CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + dt.timedelta(days=CA_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))

    names = ["localhost", socket.gethostname(), *extra_names]
    sans: list = [x509.DNSName(n) for n in dict.fromkeys(names) if n]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))

    _write(d / "ca.key", ca_key.private_bytes(**key_pem), 0o600)
    _write(out["keyfile"], key.private_bytes(**key_pem), 0o600)
    _write(out["cafile"], ca.public_bytes(pem), 0o644)
    _write(out["certfile"], cert.public_bytes(pem), 0o644)
    return out
