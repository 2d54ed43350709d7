"""Report charts: matplotlib (Agg, no pyplot state) → deterministic PNG bytes.

Labels are bilingual and drawn with 'Noto Sans CJK SC' (fonts-noto-cjk). PNG metadata carries no
software version or time, so the same numbers always give the same bytes.
Inputs are the model's lists (see ecm.report.model); None values are gaps.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ecm.report.labels import CARRIER, path_decline_pct  # noqa: E402
from ecm.schema import Classification  # noqa: E402

CLASS_VALUES = {c.value for c in Classification}

FONT = "Noto Sans CJK SC"
DPI = 110
RC = {"font.family": "sans-serif", "font.sans-serif": [FONT, "DejaVu Sans"], "axes.unicode_minus": False,
      "font.size": 8, "axes.titlesize": 9, "svg.hashsalt": "ecm", "path.simplify": True}
#: most lines drawn in the district line chart (worst first)
MAX_LINES = 30
#: family name of the run's cut of Noto Sans CJK SC while :func:`cut_font` is active
CUT_FAMILY = "ECM CJK"
_cut_active = False


def _rc() -> dict:
    return {**RC, "font.sans-serif": [CUT_FAMILY, *RC["font.sans-serif"]]} if _cut_active else RC


def chart_text() -> str:
    """Characters the charts draw besides the model's names: this module's and its label modules'
    source (titles, axis labels, carriers, month marks) and printable ASCII."""
    here = Path(__file__).parent
    return "".join((here / f).read_text(encoding="utf-8") for f in ("charts.py", "labels.py", "wording.py")) + \
        "".join(chr(c) for c in range(32, 127))


@contextlib.contextmanager
def cut_font(path: Path):
    """Draw the charts with ``path``, a cut of Noto Sans CJK SC to the run's characters (the PDFs'
    :class:`ecm.report.render.CjkFonts` cut, family ``ECM CJK``), while the block runs; a character
    it lacks falls back to the full font. Text shaping in the cut costs half of that in the full font
    (65 k glyphs), and text is most of a chart's drawing. The outlines are the same."""
    global _cut_active
    from matplotlib import font_manager

    fm = font_manager.fontManager

    def drop() -> None:
        fm.ttflist = [f for f in fm.ttflist if f.name != CUT_FAMILY]
        fm._findfont_cached.cache_clear()

    drop()
    fm.addfont(str(path))
    clear_frames()
    _cut_active = True
    try:
        yield
    finally:
        _cut_active = False
        clear_frames()
        drop()


def _png(fig: Figure) -> bytes:
    """Opaque RGB PNG bytes of ``fig``, drawn once: the figure is made at the save DPI with fixed
    margins, so nothing re-lays it out or redraws it. Pillow writes no time or version chunk. RGB
    (the background is white) saves WeasyPrint re-encoding an alpha mask for every PDF image."""
    from PIL import Image

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    img = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="PNG", dpi=(DPI, DPI))
    return buf.getvalue()


#: per process: the frames of the 24-month charts and the energy mix (figure, axes, ticks and labels,
#: axis labels, legend), keyed by everything they are built from. A document's chart only sets its data
#: and title on the frame: the same bytes as a fresh figure (tests/report/test_report_charts.py),
#: ~35 % less CPU, as ticks and text metrics are made once. Cleared when the chart font changes.
_FRAMES: dict[tuple, dict] = {}
MAX_FRAMES = 8


def _frame(key: tuple, build) -> dict:
    if key not in _FRAMES:
        if len(_FRAMES) >= MAX_FRAMES:
            _FRAMES.clear()
        _FRAMES[key] = build()
    return _FRAMES[key]


def clear_frames() -> None:
    _FRAMES.clear()


def text_width_in(texts: list[str], size_pt: float) -> float:
    """Widest of ``texts`` in inches at ``size_pt`` in the chart font (FreeType metrics, no drawing)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    with matplotlib.rc_context(_rc()):
        prop = FontProperties(size=size_pt)
        return max((text_to_path.get_text_width_height_descent(t, prop, ismath=False)[0] for t in texts),
                   default=0.0) / 72


def _fig(w_in: float, h_in: float, *, left: float, bottom: float, top: float = 0.32, right: float = 0.15) -> Figure:
    """A figure at the save DPI whose axes leave fixed margins (inches) for the tick labels, axis
    labels and title. Fixed margins replace constrained layout, which measured every text twice per save."""
    fig = Figure(figsize=(w_in, h_in), dpi=DPI)
    fig.subplots_adjust(left=left / w_in, right=1 - right / w_in, bottom=bottom / h_in, top=1 - top / h_in)
    return fig


def intensity_path(trend: list[dict], title: str) -> bytes:
    """Cumulative intensity index (2022 = 1) per month against the target path index."""
    keys = [t["key"] for t in trend]
    ci = [t["cumulative_index"] if t["cumulative_index"] is not None else float("nan") for t in trend]
    pi = [t["path_index"] if t["path_index"] is not None else float("nan") for t in trend]

    def build() -> dict:
        # left: y tick values + y label; bottom: month keys at 60°
        fig = _fig(6.2, 2.6, left=0.62, bottom=0.52)
        ax = fig.add_subplot()
        x = list(range(len(trend)))
        ci_line, = ax.plot(x, ci, marker="o", ms=3, color="#1565c0", label="累计强度指数 cumulative index")
        pi_line, = ax.plot(x, pi, ls="--", color="#c62828", label=f"{path_decline_pct()}%路径 target path")
        ax.set_xticks(x, keys, rotation=60, fontsize=6)
        ax.set_ylabel("指数 index (2022=1)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
        FigureCanvasAgg(fig)
        return {"fig": fig, "ax": ax, "ci": ci_line, "pi": pi_line}

    with matplotlib.rc_context(_rc()):
        f = _frame(("intensity", tuple(keys), path_decline_pct()), build)
        f["ci"].set_ydata(ci)
        f["pi"].set_ydata(pi)
        ax = f["ax"]
        ax.relim()
        ax.autoscale_view()
        ax.set_title(f"单位工业增加值能耗 对比路径 / intensity vs path — {title}")
        return _png(f["fig"])


def energy_mix(mix: list[dict], title: str) -> bytes:
    """Month-to-date energy by carrier, tce (当量值)."""
    labels = [f"{CARRIER.get(m['key'], (m['key'], m['key']))[0]} {CARRIER.get(m['key'], (m['key'], m['key']))[1]}"
              for m in mix][::-1]
    vals = [m["energy_tce"] for m in mix][::-1]
    y = list(range(len(labels)))

    def build() -> dict:
        # left: the carrier names (8 pt) as measured; bottom: x ticks + x label
        fig = _fig(6.2, 0.9 + 0.28 * max(len(mix), 1), left=text_width_in(labels, 8) + 0.16, bottom=0.5)
        ax = fig.add_subplot()
        ax.set_yticks(y, labels)
        ax.set_xlabel("能耗 energy, tce (本月累计 month to date)")
        ax.margins(x=0.18)
        FigureCanvasAgg(fig)
        return {"fig": fig, "ax": ax, "drawn": []}

    with matplotlib.rc_context(_rc()):
        f = _frame(("mix", tuple(labels)), build)
        ax = f["ax"]
        for artist in f["drawn"]:   # the previous document's bars and values
            artist.remove()
        bars = ax.barh(y, vals, color="#00897b")
        f["drawn"] = [bars]
        for b, m in zip(bars, mix[::-1]):
            share = "" if m["share_frac"] is None else f" {m['share_frac'] * 100:.1f}%"
            f["drawn"].append(ax.annotate(f"{m['energy_tce']:,.1f}{share}", (b.get_width(), b.get_y() + b.get_height() / 2),
                                          xytext=(3, 0), textcoords="offset points", va="center", fontsize=6))
        ax.relim()
        ax.autoscale_view()
        ax.set_title(f"能源结构 energy mix by carrier — {title}")
        return _png(f["fig"])


def chart_lines(lines: list[dict]) -> list[dict]:
    """The lines the line chart draws (worst first, at most MAX_LINES)."""
    return [ln for ln in lines if ln["unit_energy_12m"] is not None and ln["baseline"]][:MAX_LINES]


def line_labels(rows: list[dict]) -> list[str]:
    """Bar labels: ``渝荣陶瓷 一号线 抛光瓷质砖 (kgce/m²)`` — the enterprise's short name first, so two
    enterprises' 粉磨线 never read alike (model.benchmark_rows makes ``label_zh`` unique)."""
    return [f"{ln.get('label_zh') or ln['name_zh']} ({ln['unit']})" for ln in rows]


def lines_benchmark(lines: list[dict], title: str) -> bytes:
    """Lines' 12-month unit product energy as % of 基准 (baseline = 100), with the 标杆 level marked."""
    rows = chart_lines(lines)[::-1]
    with matplotlib.rc_context(_rc()):
        labels = line_labels(rows)
        # left: the line labels (6 pt) as measured; bottom: x ticks + x label
        fig = _fig(6.2, 0.9 + 0.24 * max(len(rows), 1), left=text_width_in(labels, 6) + 0.16, bottom=0.5)
        ax = fig.add_subplot()
        y = list(range(len(rows)))
        val = [100 * ln["unit_energy_12m"] / ln["baseline"] for ln in rows]
        colours = [Classification(ln["classification"]).colour if ln["classification"] in CLASS_VALUES
                   else Classification.BETWEEN.colour for ln in rows]
        ax.barh(y, val, color=colours)
        bm = [100 * ln["benchmark"] / ln["baseline"] if ln["benchmark"] else float("nan") for ln in rows]
        ax.scatter(bm, y, marker="|", s=120, color="black", label="标杆 benchmark", zorder=3)
        ax.axvline(100, color="#c62828", ls="--", lw=1, label="基准 baseline = 100")
        ax.set_yticks(y, labels, fontsize=6)
        ax.set_xlabel("单位产品能耗 占基准值 % unit product energy, % of baseline (12个月 12-month)")
        ax.set_title(f"产线能效 对比标杆/基准 / lines vs 标杆/基准 — {title}")
        ax.legend(loc="lower right", fontsize=6)
        return _png(fig)


def co2_trend(trend: list[dict], title: str) -> bytes:
    """Monthly CO2, tCO2; a month still running (``partial``) is drawn hatched and pale, marked * and
    labelled month to date, so it is never read as a fall."""
    from ecm.report.wording import month_label

    x = list(range(len(trend)))
    vals = [t["co2_t"] if t["co2_t"] is not None else 0.0 for t in trend]
    partial = [bool(t.get("partial")) and t["co2_t"] is not None for t in trend]
    labels = [month_label(t["key"], p) for t, p in zip(trend, partial)]
    # left: the widest y tick value (≤ 1.15 × the top bar, in digits) + the y label;
    # bottom: month keys (with *) at 60°
    digits = len(f"{max(vals, default=0.0) * 1.3:.0f}")

    def build() -> dict:
        fig = _fig(6.2, 2.4, left=text_width_in(["8" * digits], 8) + 0.38, bottom=0.55)
        ax = fig.add_subplot()
        ax.set_xticks(x, labels, rotation=60, fontsize=6)
        ax.set_ylabel("二氧化碳 CO$_2$, 吨 tCO$_2$")
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        FigureCanvasAgg(fig)
        return {"fig": fig, "ax": ax, "drawn": []}

    with matplotlib.rc_context(_rc()):
        f = _frame(("co2", tuple(labels), digits), build)
        ax = f["ax"]
        for artist in f["drawn"]:   # the previous document's bars and notes
            artist.remove()
        bars = ax.bar(x, vals, color=["#d7ccc8" if p else "#6d4c41" for p in partial], edgecolor="#6d4c41")
        f["drawn"] = [bars]
        for b, p, t in zip(bars, partial, trend):
            if t["co2_t"] is None:
                f["drawn"].append(ax.annotate("数据不足\nn/a", (b.get_x() + b.get_width() / 2, 0), xytext=(0, 2),
                                              textcoords="offset points", ha="center", va="bottom", fontsize=5,
                                              color="#757575"))
            elif p:
                b.set_hatch("///")
                f["drawn"].append(ax.annotate("本月至今\nmonth to date", (b.get_x() + b.get_width() / 2, b.get_height()),
                                              xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                                              fontsize=6))
        ax.relim()
        ax.autoscale_view()
        ax.set_title(f"二氧化碳排放趋势 CO$_2$ trend (月度 monthly, *本月至今 month to date) — {title}")
        return _png(f["fig"])


def chart_names(model: dict) -> list[str]:
    """The charts :func:`model_charts` draws for ``model`` (charts without data are left out; the
    intensity chart of a data-insufficient enterprise is left out, as its report withholds it)."""
    names = []
    if any(t["cumulative_index"] is not None for t in model["trend"]) and not (
            model["summary"]["data_insufficient"] and model["scope"] != "district"):
        names.append("intensity")
    if model["mix"]:
        names.append("mix")
    if any(ln["unit_energy_12m"] is not None and ln["baseline"] for ln in model["lines"]):
        names.append("lines")
    if any(t["co2_t"] is not None for t in model["trend"]):
        names.append("co2")
    return names


def model_charts(model: dict) -> dict[str, bytes]:
    """Chart name -> PNG bytes for one report model, for the charts of :func:`chart_names`."""
    title = model["name_zh"]
    draw = {"intensity": lambda: intensity_path(model["trend"], title),
            "mix": lambda: energy_mix(model["mix"], title),
            "lines": lambda: lines_benchmark(model["lines"], title),
            "co2": lambda: co2_trend(model["trend"], title)}
    return {name: draw[name]() for name in chart_names(model)}
