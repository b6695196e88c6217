"""A self-contained HTML report of a run: ``RUN_DIR/report/index.html`` plus one small page per
document under ``docs/``. No network is needed to open it: plotly.js is inlined once in the index,
document pages use plain HTML, CSS and a few lines of script.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..aggregate import corpus_dyads
from ..export import atomic_path, read_table
from ..labels import COLOURS, LABELS

GREY = "#9e9e9e"


def _e(x) -> str:
    return html.escape("" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x))


def doc_page_name(doc_id: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in doc_id)[-80:]
    return f"{safe}-{hashlib.sha1(doc_id.encode()).hexdigest()[:8]}.html"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#212121;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cfd8dc;font-size:13px}
main{padding:18px 28px;max-width:1200px}section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;
padding:14px 18px;margin:0 0 18px}h2{font-size:18px;margin:0 0 8px}h3{font-size:15px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}
th{background:#f5f5f5;cursor:pointer}.num{text-align:right;font-variant-numeric:tabular-nums}
.mix{display:flex;height:10px;width:140px;border-radius:3px;overflow:hidden;background:#eee}
.mix span{display:block;height:100%}.lab{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:12px}
.warn{background:#fff3e0;border-color:#ffb74d}.bad{background:#ffebee;border-color:#e57373}
.sent{padding:6px 8px;margin:3px 0;border-left:5px solid transparent;border-radius:3px;cursor:pointer;line-height:1.45}
.sent.none{color:#9e9e9e;cursor:default}.sent.heading{font-weight:600;color:#616161}
.sent .meta{font-size:11px;color:#757575;margin-left:6px}.ev{display:none;font-size:12px;background:#f5f5f5;
margin:4px 0 2px;padding:6px 8px;border-radius:3px}.sent.open .ev{display:block}
.legend span{margin-right:12px}.pager button{margin:0 3px}.muted{color:#757575;font-size:12px}
.summary li{margin:3px 0}
"""

SORT_JS = """
function sortTable(t, c, num){const rows=[...t.tBodies[0].rows];const dir=t.dataset.sort==c?-1:1;t.dataset.sort=dir==1?c:'';
rows.sort((a,b)=>{let x=a.cells[c].dataset.v??a.cells[c].innerText,y=b.cells[c].dataset.v??b.cells[c].innerText;
if(num){x=parseFloat(x);y=parseFloat(y);x=isNaN(x)?-9:x;y=isNaN(y)?-9:y;return (x-y)*dir}return x.localeCompare(y)*dir});
rows.forEach(r=>t.tBodies[0].appendChild(r));page(t,0)}
function page(t,p){const n=+t.dataset.per||50;const rows=[...t.tBodies[0].rows].filter(r=>!r.dataset.hide);
[...t.tBodies[0].rows].forEach(r=>r.style.display='none');rows.slice(p*n,p*n+n).forEach(r=>r.style.display='');
const pg=document.getElementById(t.id+'-pager');if(!pg)return;const k=Math.ceil(rows.length/n);pg.innerHTML='';
for(let i=0;i<k;i++){const b=document.createElement('button');b.textContent=i+1;b.disabled=i==p;b.onclick=()=>page(t,i);pg.appendChild(b)}}
function filterTable(t,q){q=q.toLowerCase();[...t.tBodies[0].rows].forEach(r=>{r.dataset.hide=r.innerText.toLowerCase().includes(q)?'':'1';
if(!r.dataset.hide)delete r.dataset.hide});page(t,0)}
"""


def _mix(row) -> str:
    n = row.get("n_stance") or 0
    if not n:
        return '<div class="mix"></div>'
    spans = "".join(f'<span style="width:{100 * row[f"n_{lab}"] / n:.1f}%;background:{COLOURS[lab]}" '
                    f'title="{lab}: {row[f"n_{lab}"]}"></span>' for lab in LABELS)
    return f'<div class="mix">{spans}</div>'


def _label(lab) -> str:
    if not lab or lab not in COLOURS:
        return '<span class="lab" style="background:#bdbdbd">none</span>'
    return f'<span class="lab" style="background:{COLOURS[lab]}">{lab}</span>'


def _fmt(x, spec="+.2f") -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def trends(dyads: pd.DataFrame, documents: pd.DataFrame, min_docs: int = 2, min_sentences: int = 3) -> pd.DataFrame:
    """Per actor pair over dated documents: the stance index of the earlier and of the later half
    of its documents, and the change (positive: warming)."""
    if dyads.empty or documents["date"].isna().all():
        return pd.DataFrame(columns=["actor_a", "actor_b", "n_docs", "first_date", "last_date", "first", "last", "change"])
    d = dyads.merge(documents[["doc_id", "date"]], on="doc_id").dropna(subset=["date"]).sort_values("date")
    rows = []
    for (a, b), g in d.groupby(["actor_a", "actor_b"]):
        g = g[g["n_stance"] > 0]
        if g["doc_id"].nunique() < min_docs:
            continue
        half = max(1, len(g) // 2)
        early, late = g.iloc[:half], g.iloc[half:]
        if early["n_stance"].sum() < min_sentences or late["n_stance"].sum() < min_sentences:
            continue  # too little on either side to speak of a direction
        first = (early["n_cooperation"].sum() - early["n_friction"].sum()) / early["n_stance"].sum()
        last = (late["n_cooperation"].sum() - late["n_friction"].sum()) / late["n_stance"].sum()
        rows.append({"actor_a": a, "actor_b": b, "n_docs": g["doc_id"].nunique(), "first_date": g["date"].iloc[0],
                     "last_date": g["date"].iloc[-1], "first": first, "last": last, "change": last - first})
    return pd.DataFrame(rows).sort_values("change", ignore_index=True) if rows else pd.DataFrame(
        columns=["actor_a", "actor_b", "n_docs", "first_date", "last_date", "first", "last", "change"])


def _charts(documents: pd.DataFrame, dyads: pd.DataFrame, pairs: pd.DataFrame, top_docs: int = 40,
            top_actors: int = 14, top_pairs: int = 8) -> list[tuple[str, str]]:
    import plotly.graph_objects as go

    out = []
    docs = documents[documents["n_stance"] > 0].sort_values("n_stance", ascending=False).head(top_docs)
    if len(docs):
        docs = docs.sort_values("stance_index")
        fig = go.Figure()
        for lab in LABELS:
            fig.add_bar(y=docs["doc_id"], x=docs[f"share_{lab}"], name=lab, orientation="h",
                        marker_color=COLOURS[lab], customdata=docs[f"n_{lab}"],
                        hovertemplate="%{y}<br>" + lab + ": %{customdata} (%{x:.0%})<extra></extra>")
        fig.update_layout(barmode="stack", height=max(320, 18 * len(docs) + 160), margin=dict(l=10, r=10, t=40, b=60),
                          xaxis=dict(tickformat=".0%", title="share of stance-bearing sentences"),
                          title=f"Label mix per document (the {len(docs)} with most stance sentences, "
                                "ordered by stance index)", legend=dict(orientation="h", y=-0.08, x=0.5, xanchor="center", yanchor="top"))
        out.append(("mix", fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-mix")))
    if not pairs.empty:
        counts = pd.concat([pairs[["actor_a", "n_stance"]].rename(columns={"actor_a": "a"}),
                            pairs[["actor_b", "n_stance"]].rename(columns={"actor_b": "a"})]).groupby("a")["n_stance"].sum()
        actors = counts.sort_values(ascending=False).head(top_actors).index.tolist()
        m = np.full((len(actors), len(actors)), np.nan)
        text = [["" for _ in actors] for _ in actors]
        for r in pairs.itertuples():
            if r.actor_a in actors and r.actor_b in actors:
                i, j = actors.index(r.actor_a), actors.index(r.actor_b)
                m[i, j] = m[j, i] = r.stance_index
                t = (f"{r.actor_a}–{r.actor_b}: index {r.stance_index:+.2f}<br>{r.n_cooperation} cooperation, "
                     f"{r.n_friction} friction, {r.n_hedging} hedging in {r.n_docs} doc(s)")
                text[i][j] = text[j][i] = t
        fig = go.Figure(go.Heatmap(z=m, x=actors, y=actors, zmin=-1, zmax=1, text=text, hoverinfo="text",
                                   colorscale=[[0, COLOURS["friction"]], [0.5, "#fff9c4"], [1, COLOURS["cooperation"]]],
                                   colorbar=dict(title="stance<br>index")))
        fig.update_layout(height=520, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(autorange="reversed"),
                          title="Who cooperates with whom: stance index of each actor pair (green cooperation, red friction)")
        out.append(("matrix", fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-matrix")))
    dated = dyads.merge(documents[["doc_id", "date"]], on="doc_id").dropna(subset=["date"]) if len(dyads) else dyads
    if len(dated) and not pairs.empty:
        top = pairs.head(top_pairs)
        fig = go.Figure()
        for r in top.itertuples():
            g = dated[(dated["actor_a"] == r.actor_a) & (dated["actor_b"] == r.actor_b)].sort_values("date")
            if g["date"].nunique() < 2:
                continue
            fig.add_scatter(x=pd.to_datetime(g["date"]), y=g["stance_index"], mode="lines+markers",
                            name=f"{r.actor_a}–{r.actor_b}", customdata=g[["doc_id", "n_stance"]],
                            hovertemplate="%{customdata[0]}<br>index %{y:+.2f} (%{customdata[1]} sentences)<extra></extra>")
        if fig.data:
            fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=30), yaxis=dict(range=[-1.05, 1.05],
                              title="stance index"), title="Stance index over time, most discussed actor pairs")
            out.append(("time", fig.to_html(full_html=False, include_plotlyjs=False, div_id="chart-time")))
    return out


def build_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the report; returns the path of index.html."""
    from plotly.offline import get_plotlyjs

    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir else run_dir / "report"
    (out_dir / "docs").mkdir(parents=True, exist_ok=True)
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    tables = {}
    for name in ("sentences", "documents", "dyads"):
        try:
            tables[name] = read_table(run_dir, name)
        except FileNotFoundError:
            tables[name] = pd.DataFrame()
    documents, sentences, dyads = tables["documents"], tables["sentences"], tables["dyads"]
    failures = run.get("failures", [])
    card = (run.get("model") or {}).get("card") or {}
    pairs = corpus_dyads(dyads) if len(dyads) else pd.DataFrame()
    trend = trends(dyads, documents) if len(documents) else pd.DataFrame()

    body = [f"<header><h1>Stance report</h1><p>{_e(run_dir.resolve())} · {len(documents)} documents · "
            f"model {_e(card.get('version', '?'))} · generated from run of {_e(run.get('finished_at', '?'))}</p></header><main>"]
    if documents.empty:
        body.append('<section class="bad" id="empty"><h2>No documents in this run</h2><p>The run produced no document '
                    f'tables{" — every input failed (see below)" if failures else ""}. Nothing to chart.</p></section>')
    else:
        body.append(_summary(documents, sentences, pairs, trend))
        charts = _charts(documents, dyads, pairs)
        for key, div in charts:
            body.append(f'<section class="chart" id="section-{key}">{div}</section>')
        body.append(_pairs_section(pairs, trend))
        body.append(_documents_section(documents))
    body.append(_model_section(card, run))
    body.append(_failures_section(failures))
    body.append("</main>")
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Stance report</title>"
            f"<style>{CSS}</style><script>{get_plotlyjs() if not documents.empty else ''}</script>"
            f"<script>{SORT_JS}</script></head><body>{''.join(body)}"
            "<script>document.querySelectorAll('table.paged').forEach(t=>page(t,0))</script></body></html>")
    index = out_dir / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(page, encoding="utf-8")
    if not documents.empty:
        by_doc = {d: g for d, g in sentences.groupby("doc_id", sort=False)} if len(sentences) else {}
        dy_doc = {d: g for d, g in dyads.groupby("doc_id", sort=False)} if len(dyads) else {}
        for row in documents.to_dict("records"):
            _write_doc_page(out_dir / "docs" / doc_page_name(row["doc_id"]), row,
                            by_doc.get(row["doc_id"], pd.DataFrame()), dy_doc.get(row["doc_id"], pd.DataFrame()), card)
    return index


def _summary(documents, sentences, pairs, trend) -> str:
    n_st = int(documents["n_stance"].sum())
    tot = {lab: int(documents[f"n_{lab}"].sum()) for lab in LABELS}
    idx = (tot["cooperation"] - tot["friction"]) / n_st if n_st else float("nan")
    items = [f"<li>{len(documents)} documents, {int(documents['n_sentences'].sum()):,} sentences, {n_st:,} bearing stance: "
             + ", ".join(f"{_label(lab)} {tot[lab]:,}" for lab in LABELS) + f"; corpus stance index {_fmt(idx)}.</li>"]
    if len(pairs):
        # rank by a shrunk index, (coop - friction) / (n + 5), so that a pair seen in three
        # sentences does not outrank one seen in thirty; only pairs with some support count
        p = pairs[pairs["n_stance"] >= max(5, int(pairs["n_stance"].quantile(0.75)))].copy()
        if len(p):
            p["shrunk"] = (p["n_cooperation"] - p["n_friction"]) / (p["n_stance"] + 5)
            best = p.sort_values("shrunk", ascending=False).head(3)
            worst = p.sort_values("shrunk").head(3)
            items.append("<li>Most cooperative pairs: " + ", ".join(
                f"<b>{_e(r.actor_a)}–{_e(r.actor_b)}</b> ({_fmt(r.stance_index)}, {r.n_stance} sentences)"
                for r in best.itertuples()) + ".</li>")
            items.append("<li>Most frictional pairs: " + ", ".join(
                f"<b>{_e(r.actor_a)}–{_e(r.actor_b)}</b> ({_fmt(r.stance_index)}, {r.n_stance} sentences)"
                for r in worst.itertuples()) + ".</li>")
    if len(trend):
        cool = trend[trend["change"] < 0].sort_values("change").head(3)
        warm = trend[trend["change"] > 0].sort_values("change", ascending=False).head(3)
        for title, rows in (("Warming (later documents more cooperative than earlier ones)", warm),
                            ("Cooling (later documents more frictional)", cool)):
            if len(rows):
                items.append(f"<li>{title}: " + ", ".join(
                    f"<b>{_e(r.actor_a)}–{_e(r.actor_b)}</b> {_fmt(r.first)} → {_fmt(r.last)} "
                    f"({_e(r.first_date)} to {_e(r.last_date)})" for r in rows.itertuples()) + ".</li>")
    else:
        items.append("<li>Too few dated documents per actor pair to tell warming from cooling.</li>")
    legend = " ".join(f"<span>{_label(lab)}</span>" for lab in LABELS)
    return (f'<section id="summary"><h2>At a glance</h2><p class="legend">{legend} '
            '<span class="muted">stance index = (cooperation − friction) / stance-bearing sentences, from −1 to +1</span></p>'
            f'<ul class="summary">{"".join(items)}</ul></section>')


def _pairs_section(pairs: pd.DataFrame, trend: pd.DataFrame, limit: int = 200) -> str:
    if pairs.empty:
        return '<section id="pairs"><h2>Actor pairs</h2><p>No sentence names two actors.</p></section>'
    tr = {(r.actor_a, r.actor_b): r for r in trend.itertuples()} if len(trend) else {}
    rows = []
    for r in pairs.head(limit).itertuples():
        t = tr.get((r.actor_a, r.actor_b))
        change = f"{_fmt(t.change)}" if t is not None else ""
        rows.append(f"<tr><td>{_e(r.actor_a)}–{_e(r.actor_b)}</td><td class='num'>{r.n_docs}</td><td class='num'>{r.n_stance}</td>"
                    f"<td class='num'>{r.n_cooperation}</td><td class='num'>{r.n_friction}</td><td class='num'>{r.n_hedging}</td>"
                    f"<td class='num' data-v='{r.stance_index}'>{_fmt(r.stance_index)}</td><td class='num'>{change}</td></tr>")
    head = "".join(f"<th onclick='sortTable(this.closest(\"table\"),{i},{1 if i else 0})'>{h}</th>" for i, h in enumerate(
        ["pair", "docs", "stance", "coop", "friction", "hedging", "index", "change over time"]))
    return (f'<section id="pairs"><h2>Actor pairs</h2><p class="muted">Pairs named together in stance-bearing sentences '
            f'(top {min(limit, len(pairs))} of {len(pairs)} by volume). Click a column to sort.</p>'
            f'<table id="pairs-table" class="paged" data-per="25"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<div class="pager" id="pairs-table-pager"></div></section>')


def _documents_section(documents: pd.DataFrame) -> str:
    rows = []
    for r in documents.to_dict("records"):
        rows.append(f"<tr><td><a href='docs/{doc_page_name(r['doc_id'])}'>{_e(r['doc_id'])}</a></td><td>{_e(r['title'])}</td>"
                    f"<td>{_e(r['date'])}</td><td class='num'>{r['n_stance']}</td><td>{_mix(r)}</td>"
                    f"<td class='num' data-v='{r['stance_index']}'>{_fmt(r['stance_index'])}</td><td>{_label(r['dominant_label'])}</td>"
                    f"<td>{_e(', '.join(r['top_actors'] or []))}</td></tr>")
    head = "".join(f"<th onclick='sortTable(this.closest(\"table\"),{i},{1 if i in (3, 5) else 0})'>{h}</th>" for i, h in enumerate(
        ["document", "title", "date", "stance", "mix", "index", "dominant", "top actors"]))
    return ('<section id="documents"><h2>Documents</h2><input placeholder="filter…" '
            'oninput="filterTable(document.getElementById(\'doc-table\'),this.value)"> '
            '<span class="muted">click a document to read it sentence by sentence</span>'
            f'<table id="doc-table" class="paged" data-per="50"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<div class="pager" id="doc-table-pager"></div></section>')


def _model_section(card: dict, run: dict) -> str:
    m = card.get("metrics") or {}
    rows = []
    for name in ("heldout", "devset"):
        if name in m:
            x = m[name]
            rows.append(f"<tr><td>{name}</td><td class='num'>{x.get('macro_f1', float('nan')):.3f}</td>"
                        f"<td class='num'>{x.get('none_f1', float('nan')):.3f}</td><td class='num'>{x.get('stance_f1', float('nan')):.3f}</td>"
                        f"<td class='num'>{x.get('n', '')}</td></tr>")
    warn = f'<p class="warn">Placeholder model: {_e(card["placeholder"])}</p>' if card.get("placeholder") else ""
    spacy = _e((run.get("spacy") or {}).get("model"))
    table = ("<table><thead><tr><th>evaluation</th><th>macro-F1 (3 labels)</th><th>none F1</th><th>stance-bearing F1</th>"
             f"<th>sentences</th></tr></thead><tbody>{''.join(rows)}</tbody></table>") if rows else "<p>No metrics in the card.</p>"
    return (f'<section id="model"><h2>Model</h2>{warn}<p>Version <b>{_e(card.get("version", "?"))}</b>, trained '
            f'{_e(card.get("created_at"))} on {_e((card.get("data") or {}).get("n_records"))} sentences from '
            f'{_e((card.get("data") or {}).get("n_documents"))} documents; spaCy {spacy}.</p>{table}</section>')


def _failures_section(failures: list[dict]) -> str:
    if not failures:
        return '<section id="failures"><h2>Failures</h2><p>None: every input was processed.</p></section>'
    rows = "".join(f"<tr><td>{_e(f.get('path'))}</td><td>{_e(f.get('code'))}</td><td>{_e(f.get('reason'))}</td></tr>"
                   for f in failures)
    return (f'<section id="failures" class="bad"><h2>Failures ({len(failures)})</h2><table><thead><tr><th>file</th>'
            f'<th>code</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table></section>')


def _write_doc_page(path: Path, doc: dict, sents: pd.DataFrame, dyads: pd.DataFrame, card: dict) -> None:
    parts = []
    for s in (sents.sort_values("sent_id").to_dict("records") if len(sents) else []):
        actors = ", ".join(s["actors"] or [])
        if s["stance_bearing"]:
            lab = s["label"]
            ev = "".join(f"<li>{_e(x)}</li>" for x in (s["evidence"] or []))
            probs = " · ".join(f"{k} {s[f'p_{k}']:.2f}" for k in LABELS)
            parts.append(
                f'<div class="sent {lab}" data-label="{lab}" style="border-color:{COLOURS[lab]};background:{COLOURS[lab]}14" '
                f'onclick="this.classList.toggle(\'open\')">{_e(s["text"])}<span class="meta">{_label(lab)} '
                f'{s["confidence"]:.0%}{" · " + _e(actors) if actors else ""}</span>'
                f'<div class="ev"><b>Why:</b> the features that pushed most toward <i>{lab}</i>:<ul>{ev or "<li>(none)</li>"}</ul>'
                f'Probabilities: {probs} · P(stance-bearing) {s["p_stance"]:.2f}</div></div>')
        else:
            cls = "heading" if s["kind"] in ("title", "heading") else "none"
            parts.append(f'<div class="sent {cls}" data-label="none">{_e(s["text"])}'
                         f'{"<span class=meta>" + _e(actors) + "</span>" if actors else ""}</div>')
    dy = ""
    if len(dyads):
        dy = ("<h3>Actor pairs in this document</h3><table><tr><th>pair</th><th class='num'>coop</th><th class='num'>friction</th>"
              "<th class='num'>hedging</th><th class='num'>index</th></tr>") + "".join(
            f"<tr><td>{_e(r.actor_a)}–{_e(r.actor_b)}</td><td class='num'>{r.n_cooperation}</td><td class='num'>{r.n_friction}</td>"
            f"<td class='num'>{r.n_hedging}</td><td class='num'>{_fmt(r.stance_index)}</td></tr>" for r in dyads.itertuples()) + "</table>"
    counts = ", ".join(f"{_label(lab)} {doc[f'n_{lab}']}" for lab in LABELS)
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(doc['title'] or doc['doc_id'])}</title>"
            f"<style>{CSS}</style></head><body><header><h1>{_e(doc['title'] or doc['doc_id'])}</h1>"
            f"<p>{_e(doc['doc_id'])} · {_e(doc['date'] or 'undated')} · model {_e(card.get('version', '?'))} · "
            f"<a style='color:#fff' href='../index.html'>back to the report</a></p></header><main>"
            f"<section><p>{doc['n_sentences']} sentences, {doc['n_stance']} bearing stance: {counts}; stance index "
            f"<b>{_fmt(doc['stance_index'])}</b>. Click a coloured sentence to see why the model labelled it; grey "
            f"sentences bear no stance.</p>{dy}</section><section id='text'>{''.join(parts)}</section></main></body></html>")
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
