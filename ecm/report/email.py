"""Optional e-mail delivery of a published report via Airflow's SMTP provider.

Off by default: it sends only when ``ECM_REPORT_EMAIL_TO`` lists recipients. The SMTP server,
sender and credentials come from the Airflow connection ``ECM_REPORT_SMTP_CONN_ID`` (default
``smtp_default``, e.g. ``AIRFLOW_CONN_SMTP_DEFAULT='smtp://user:pass@host:587?from_email=...'``).
"""
from __future__ import annotations

import json
from pathlib import Path


def recipients(value: str) -> list[str]:
    """Comma/semicolon separated addresses -> list (empty = e-mail off)."""
    return [a.strip() for a in value.replace(";", ",").split(",") if a.strip()]


def message_parts(report_dir: Path) -> tuple[str, str, list[str]]:
    """(subject, html body, attachment paths) of a published report folder (pure apart from reading it)."""
    manifest = json.loads((report_dir / "manifest.json").read_text(encoding="utf-8"))
    data = json.loads((report_dir / "data.json").read_text(encoding="utf-8"))
    rev = manifest["revision"]
    mark = f" 修订版 rev{rev}" if rev > 1 else ""
    district = data["models"].get("district")
    if district:
        s = district["summary"]
        subject = f"{district['name_zh']} 工业能耗与碳排放合规日报 {manifest['day']}{mark}"
        head = f"状态 status: {s['status']}; 需关注事项 actions: {len(district['actions'])}"
        files = [str(report_dir / "district.pdf")]
    else:
        (name, m), = data["models"].items()
        subject = f"{m['name_zh']} 能耗与碳排放合规日报 {manifest['day']}{mark}"
        head = f"状态 status: {m['summary']['status']}"
        files = [str(report_dir / f"enterprise-{name}.pdf")]
    body = (f"<p>{subject}</p><p>{head}</p><p>附件为PDF报告；各文件SHA-256见 manifest.json。"
            f"<br>The PDF report is attached; SHA-256 of every file in manifest.json.</p>")
    return subject, body, files + [str(report_dir / "manifest.json")]


def send_report(report_dir: Path, *, to: list[str], conn_id: str) -> None:
    """Send the report's PDF and manifest through the Airflow SMTP connection ``conn_id``."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    subject, body, files = message_parts(report_dir)
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=to, subject=subject, html_content=body, files=files)


def maybe_send(report_dir: Path, settings) -> bool:
    """Send when ``settings.report_email_to`` is set; returns whether a message was sent."""
    to = recipients(settings.report_email_to)
    if not to:
        return False
    send_report(report_dir, to=to, conn_id=settings.report_smtp_conn_id)
    return True
