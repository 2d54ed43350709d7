"""Short names a reader recognises: ``渝荣陶瓷`` for 渝荣陶瓷有限公司, and line labels that say whose line.

Used by the report's charts and tables and by the dashboards' enterprise variable, so a company reads
the same everywhere (``e01 渝荣陶瓷``).
"""
from __future__ import annotations

#: legal-form suffixes dropped from a short name, longest first
LEGAL_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司")


def short_name_zh(name_zh: str) -> str:
    """``渝荣陶瓷有限公司`` → ``渝荣陶瓷``; names without a legal-form suffix (``荣昌陶器厂``) are kept."""
    for suffix in LEGAL_SUFFIXES:
        if name_zh.endswith(suffix):   # the longest matching suffix decides; a bare suffix stays whole
            return name_zh[: -len(suffix)] if len(name_zh) > len(suffix) else name_zh
    return name_zh


def enterprise_label(enterprise_id: str, name_zh: str) -> str:
    """``e01 渝荣陶瓷``: the id the data carries, then the short name the reader knows."""
    return f"{enterprise_id} {short_name_zh(name_zh)}"


def line_label(enterprise_name_zh: str, line_name_zh: str) -> str:
    """``渝荣陶瓷 一号线 抛光瓷质砖``: a line is named with its enterprise, so two enterprises' 粉磨线
    never read alike."""
    return f"{short_name_zh(enterprise_name_zh)} {line_name_zh}"
