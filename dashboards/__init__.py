"""Grafana dashboards as code: one generator module per board, JSON written to ``generated/``.

``python -m dashboards.generate`` (or ``ecm dashboards generate``) rewrites the JSON;
``--check`` exits 1 when the committed JSON differs from what the generators produce.
"""
