"""HTML (jinja2) and PDF (WeasyPrint) rendering of report models, byte-for-byte reproducible.

Reproducibility: WeasyPrint's PDF carries no creation date unless asked; its ``/ID`` is set from
the HTML's SHA-256 (``pdf_identifier``), and the fonts it embeds are subset with fontTools, which
stamps ``head.modified`` from ``SOURCE_DATE_EPOCH`` (set for the duration of the PDF writes to the
report day, see :func:`source_date_epoch`). Speed: the CJK font (65 k glyphs) is first cut down
once per run to the characters of all documents (:class:`CjkFonts`), so each PDF embeds a small
font instead of re-subsetting Noto Sans CJK (≈ 2–5 s per PDF otherwise).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import date
from pathlib import Path

import jinja2
import pandas as pd

from ecm import state_cache
from ecm.periods import TZ
from ecm.report.labels import CARRIER, CLASSIFICATION, INDUSTRY, STATUS, rate_to_2027, target_words

FONT_FAMILY = "Noto Sans CJK SC"

_TEMPLATES = Path(__file__).parent / "templates"


def _f(v, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def _pct(v, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def _any(v) -> str:
    if v is None:
        return "—"
    return format(v, ".6g") if isinstance(v, float) else str(v)


def make_env() -> jinja2.Environment:
    """Jinja environment with the report filters (number formats are defined here once)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        f=_f, pct=_pct, any=_any,
        rate_zh=lambda r: rate_to_2027(r)[0], rate_en=lambda r: rate_to_2027(r)[1],
        status_zh=lambda s: STATUS.get(s, (s, s, "#757575"))[0],
        status_en=lambda s: STATUS.get(s, (s, s, "#757575"))[1],
        status_colour=lambda s: STATUS.get(s, (s, s, "#757575"))[2],
        class_zh=lambda c: " ".join(CLASSIFICATION.get(c, (c, ""))).strip(),
        industry_zh=lambda i: " ".join(INDUSTRY.get(i, (i, ""))).strip(),
        carrier_zh=lambda c: " ".join(CARRIER.get(c, (c, ""))).strip(),
    )
    env.globals["T"] = target_words()  # targets from config/factors.yaml (path %, years, goals)
    env.globals.update(report_globals())
    return env


_ENV: jinja2.Environment | None = None


def shared_env() -> jinja2.Environment:
    """One :func:`make_env` per process (templates compiled once; the environment holds no report state)."""
    global _ENV
    if _ENV is None:
        _ENV = make_env()
    return _ENV


def report_globals() -> dict:
    """Units spelled out (wording.UNIT_FIRST) and the targets of config/factors.yaml, for the templates."""
    from ecm.report.wording import UNIT_FIRST, UNIT_SHORT
    from ecm.schema import targets

    t = targets()

    def pct(frac: float) -> str:
        return f"{frac * 100:.1f}".rstrip("0").rstrip(".") + "%"

    return {"U_FIRST": UNIT_FIRST, "U_SHORT": UNIT_SHORT, "path_pct": pct(t.cumulative_reduction_frac),
            "end_year": t.end_year, "bench_goal": pct(t.benchmark_share_goal_frac),
            "base_goal": pct(t.baseline_share_goal_frac)}


def render_html(env: jinja2.Environment, model: dict, revision: dict, charts: dict[str, str]) -> str:
    """HTML of one report. ``revision``: ``{"number": n, "changes": [...]}``; ``charts``: name -> relative src."""
    template = "district.html" if model["scope"] == "district" else "enterprise.html"
    css = (_TEMPLATES / "style.css").read_text(encoding="utf-8")
    return env.get_template(template).render(m=model, rev=revision, charts=charts, css=css)


def _find_face(path: str, family: str) -> int:
    from fontTools.ttLib import TTCollection

    if not path.lower().endswith((".ttc", ".otc")):
        return -1
    coll = TTCollection(path, lazy=True)
    for i, font in enumerate(coll.fonts):
        if font["name"].getDebugName(1) == family:
            return i
    raise FileNotFoundError(f"{family} not in {path}")


def _font_path(bold: bool) -> str:
    from matplotlib.font_manager import FontProperties, findfont

    return findfont(FontProperties(family=FONT_FAMILY, weight="bold" if bold else "normal"),
                    fallback_to_default=False)


@contextlib.contextmanager
def source_date_epoch(day: date):
    """Set ``SOURCE_DATE_EPOCH`` (reproducible-builds spec, read by fontTools) to the start of ``day``
    while PDFs are written; the previous value is restored."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(pd.Timestamp(day).tz_localize(TZ).timestamp()))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


def _rename(font, family: str) -> None:
    """Give the cut font its own family name, so fontconfig never confuses it with the system's full font."""
    name = font["name"]
    for rec in list(name.names):
        if rec.nameID in (1, 3, 4, 6, 16, 17, 21, 22):
            name.removeNames(nameID=rec.nameID)
    ps = family.replace(" ", "")
    for nid, val in ((1, family), (3, ps), (4, family), (6, ps)):
        name.setName(val, nid, 3, 1, 0x409)
        name.setName(val, nid, 1, 0, 0)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [ps]
        top = cff.topDictIndex[0]
        for attr in ("FullName", "FamilyName"):
            if hasattr(top, attr):
                setattr(top, attr, family)


class CjkFonts:
    """Noto Sans CJK SC regular and bold cut to ``text``'s characters, written into ``folder``;
    ``css`` is the @font-face stylesheet for WeasyPrint (family "ECM CJK").

    The cut keeps the source font's ``head.modified`` (no timestamp of its own), so it depends only
    on the source font and the characters; ``cache`` (a folder) keeps cuts by that content key,
    so the nightly run, whose characters rarely change, skips the ~4 s cut. Newest
    :data:`CUT_CACHE_KEEP` cuts are kept."""

    def __init__(self, text: str, folder: Path, cache: Path | None = None):
        chars = "".join(sorted(set(text) | set("0123456789—–-.,%/()：:第页共 pageof•◦▪…")))
        self.css = ""
        self.files: dict[str, Path] = {}
        for weight, bold in (("normal", False), ("bold", True)):
            out = folder / f"ecm-cjk-{weight}.otf"
            self._cut(chars, bold, out, cache)
            self.files[weight] = out
            self.css += (f'@font-face {{ font-family: "ECM CJK"; font-weight: {weight}; '
                         f'src: url("{out.resolve().as_uri()}"); }}\n')

    @staticmethod
    def _cut(chars: str, bold: bool, out: Path, cache: Path | None) -> None:
        import fontTools
        from fontTools import subset
        from fontTools.ttLib import TTFont

        path = _font_path(bold)
        st = os.stat(path)   # the file (and so the face in it) and the characters make the key
        cached = cache / f"cjk-{state_cache.key(path, str(st.st_size), str(st.st_mtime_ns), fontTools.version, str(bold), chars)}.otf" \
            if cache is not None else None
        data = state_cache.get(cached) if cached is not None else None
        if data is not None:
            out.write_bytes(data)
            return
        font = TTFont(path, fontNumber=max(_find_face(path, FONT_FAMILY), 0), lazy=True, recalcTimestamp=False)
        opts = subset.Options(hinting=False, desubroutinize=True, ignore_missing_glyphs=True)
        sub = subset.Subsetter(opts)
        sub.populate(text=chars)
        sub.subset(font)
        _rename(font, f"ECM CJK{' Bold' if bold else ''}")
        font.save(out)
        if cached is not None:
            state_cache.put(cached, out.read_bytes(), keep=CUT_CACHE_KEEP)


#: cuts kept in the font-cut cache (two weights per character set)
CUT_CACHE_KEEP = 8


def cut_cache_dir() -> Path | None:
    """``<ECM_STATE_DIR>/cache/report-fonts`` (created), or None when it cannot be made."""
    return state_cache.folder("report-fonts")


#: per process: the fonts stylesheet last used, with its FontConfiguration and parsed CSS. Reusing
#: them across the documents of a run saves ~25 % of a PDF; the bytes are the same as with a fresh
#: configuration per document (tests/report/test_report_parallel.py renders in different orders).
_FONTS_STATE: dict = {}


def _font_state(fonts_css: str):
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    if _FONTS_STATE.get("css") != fonts_css:
        font_config = FontConfiguration()
        _FONTS_STATE.clear()
        _FONTS_STATE.update(css=fonts_css, font_config=font_config,
                            sheet=CSS(string=fonts_css, font_config=font_config))
    return _FONTS_STATE["font_config"], _FONTS_STATE["sheet"]


def release_fonts() -> None:
    """Drop this process's FontConfiguration; WeasyPrint removes its temp font folder when the
    object is freed, and it sits in reference cycles, hence the collection (once per report)."""
    import gc

    if _FONTS_STATE:
        _FONTS_STATE.clear()
        gc.collect()


def html_to_pdf(html: str, base_url: Path, fonts_css: str) -> bytes:
    """PDF bytes of ``html`` with the @font-face stylesheet ``fonts_css`` (:attr:`CjkFonts.css`);
    images resolve against ``base_url``. Call inside :func:`source_date_epoch`."""
    from weasyprint import HTML

    ident = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode("ascii")
    font_config, sheet = _font_state(fonts_css)
    return HTML(string=html, base_url=str(base_url) + "/").write_pdf(
        stylesheets=[sheet], font_config=font_config, pdf_identifier=ident)
