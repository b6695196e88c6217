"""Wiring of the batch stages: the Python API and the body of ``briefs process``.

- ``analyse_texts(texts)``: in-memory texts -> the four tables (no files written).
- ``process(inputs, out)``: files and folders -> tables under ``out`` with resume, atomic writes
  and a ``run.json``; documents stream through in chunks, so memory stays flat.

The per-process resources (spaCy pipeline, classifier, actor index) live in an ``Analyzer`` that
each worker (local process or Dask worker) builds once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
import uuid
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd
import pyarrow.parquet as pq

from . import __version__
from .aggregate import documents_table, dyads_table
from .errors import BriefsError, InputError
from .export import EXTENSIONS, FORMATS, TableWriter, atomic_path, read_table, to_arrow, write_json
from .ingest import DEFAULT_MAX_BYTES, Brief, brief_from_bytes, brief_from_text, content_hash, discover
from .schemas import ENTITIES, SENTENCES, TABLES, empty

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3

STATE_DIR = ".state"
STAGES = ("ingest", "nlp", "features", "classify", "aggregate", "write")


@dataclass(frozen=True)
class Settings:
    """Everything that determines a document's output (its part of the resume key)."""

    model_dir: str | None = None
    spacy_model: str | None = None
    actor_files: tuple[str, ...] = ()
    batch_size: int = 4
    with_evidence: bool = True
    fast: bool = False  # leave out the model's fine-tuned encoder (classify.model.load_model)


class Analyzer:
    """spaCy pipeline + classifier + actor index, loaded once per process."""

    def __init__(self, settings: Settings, model=None):
        from .classify import load_model, resolve_model_dir
        from .extract.actors import ActorNormaliser, build_matcher
        from .extract.nlp import load_nlp, nlp_info

        self.settings = settings
        self._model = model
        self._model_error: BaseException | None = None
        self._loader = None
        if model is None:
            # load the classifier (a few seconds of skops) while spaCy parses the first batch
            import threading

            model_dir = resolve_model_dir(settings.model_dir)

            def load() -> None:
                try:
                    self._model = load_model(model_dir, fast=settings.fast)
                except BaseException as e:  # re-raised in the caller's thread
                    self._model_error = e

            self._loader = threading.Thread(target=load, name="briefs-model-loader", daemon=True)
            self._loader.start()
        self.nlp = load_nlp(settings.spacy_model)
        self.nlp_info = nlp_info(self.nlp)
        self.normaliser = ActorNormaliser(settings.actor_files)
        self.matcher = build_matcher(self.nlp, self.normaliser.index)

    @property
    def model(self):
        if self._loader is not None:
            self._loader.join()
            self._loader = None
            if self._model_error is not None:
                raise self._model_error
        return self._model

    def analyse(self, briefs: list[Brief]) -> dict:
        """Sentence, entity and document rows for a chunk of briefs, with stage timings."""
        from .extract.features import analyse_doc

        timings = dict.fromkeys(STAGES, 0.0)
        sent_rows: list[dict] = []
        ent_rows: list[dict] = []
        t = time.perf_counter()
        docs = self.nlp.pipe((b.text for b in briefs), batch_size=self.settings.batch_size)
        for brief in briefs:
            doc = next(docs)
            t1 = time.perf_counter()
            timings["nlp"] += t1 - t
            a = analyse_doc(doc, brief.doc_id, self.normaliser, self.matcher)
            sent_rows.extend(a.sentences)
            ent_rows.extend(a.entities)
            t = time.perf_counter()
            timings["features"] += t - t1
        sentences = pd.DataFrame(sent_rows)
        t = time.perf_counter()
        if len(sentences):
            pred = self.model.predict(sentences, with_evidence=self.settings.with_evidence)
            sentences = pd.concat([sentences, pred], axis=1)[SENTENCES]
        else:
            sentences = empty("sentences")
        timings["classify"] += time.perf_counter() - t
        t = time.perf_counter()
        meta = pd.DataFrame([{"doc_id": b.doc_id, "path": b.path, "title": b.title, "date": b.date} for b in briefs])
        documents = documents_table(sentences, meta)
        timings["aggregate"] += time.perf_counter() - t
        entities = pd.DataFrame(ent_rows, columns=ENTITIES) if ent_rows else empty("entities")
        words = sum(len(b.text.split()) for b in briefs)
        return {"sentences": sentences, "entities": entities, "documents": documents,
                "timings": timings, "words": words, "doc_ids": [b.doc_id for b in briefs]}


def analyse_texts(texts: Iterable[str] | dict[str, str], *, model_dir: str | None = None,
                  spacy_model: str | None = None, analyzer: Analyzer | None = None) -> dict[str, pd.DataFrame]:
    """Python API: texts (a list, or a dict doc_id -> text) -> sentences, entities, documents, dyads."""
    items = texts.items() if isinstance(texts, dict) else ((f"doc{i}", t) for i, t in enumerate(texts))
    briefs = [brief_from_text(t, doc_id) for doc_id, t in items]
    analyzer = analyzer or Analyzer(Settings(model_dir=model_dir, spacy_model=spacy_model))
    res = analyzer.analyse(briefs) if briefs else {
        "sentences": empty("sentences"), "entities": empty("entities"), "documents": empty("documents")}
    return {"sentences": res["sentences"], "entities": res["entities"], "documents": res["documents"],
            "dyads": dyads_table(res["sentences"])}


# ---------------------------------------------------------------- worker plumbing

_WORKER: Analyzer | None = None


_BLAS_LIMIT = None


def _init_worker(settings: Settings) -> None:
    global _WORKER, _BLAS_LIMIT
    # the workers are the parallelism: one BLAS thread each (the encoder's matrix products would
    # otherwise start a thread per core in every worker and oversubscribe the machine)
    from threadpoolctl import threadpool_limits

    _BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")
    _WORKER = Analyzer(settings)


def _worker_analyse(briefs: list[Brief], parts_dir: str) -> dict:
    """Analyse a chunk in a worker process, which writes the chunk's part files itself and returns
    only their name and the counts: the parent then does no table work while the workers parse
    (a part never entered in the manifest is deleted by ``State.gc``)."""
    assert _WORKER is not None, "worker not initialised"
    result = _WORKER.analyse(briefs)
    t = time.perf_counter()
    part = write_part_files(Path(parts_dir), result)
    result["timings"]["write"] += time.perf_counter() - t
    return {"part": part, "timings": result["timings"], "words": result["words"], "doc_ids": result["doc_ids"]}


def _part_path(parts_dir: Path, part: str, table: str) -> Path:
    return parts_dir / f"{part}.{table}.parquet"


def write_part_files(parts_dir: Path, result: dict) -> str:
    """One chunk's three tables as ``<part>.<table>.parquet``, each written atomically."""
    part = uuid.uuid4().hex[:16]
    for table in ("sentences", "entities", "documents"):
        df = result[table]
        with atomic_path(_part_path(parts_dir, part, table)) as tmp:
            pq.write_table(to_arrow(table, df if len(df) else empty(table)), tmp, compression="zstd")
    return part


# ---------------------------------------------------------------- state (resume)

@dataclass
class DocState:
    doc_id: str
    path: str
    hash: str
    key: str
    status: str  # ok | failed
    part: str | None = None
    reason: str | None = None
    code: str | None = None


class State:
    """``out/.state/manifest.json`` (doc -> hash, resume key, part file) and the part files."""

    def __init__(self, out: Path):
        self.dir = out / STATE_DIR
        self.parts = self.dir / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.dir / "manifest.json"
        self.docs: dict[str, DocState] = {}
        self.tables_digest: str | None = None  # what the final tables were last assembled from
        if self.manifest_path.exists():
            try:
                raw = json.loads(self.manifest_path.read_text())
                self.docs = {d["doc_id"]: DocState(**d) for d in raw.get("docs", [])}
                self.tables_digest = raw.get("tables_digest")
            except (json.JSONDecodeError, TypeError, KeyError):
                self.docs = {}  # an unreadable manifest only costs a full rerun

    def save(self) -> None:
        write_json(self.manifest_path, {"version": 1, "tables_digest": self.tables_digest,
                                        "docs": [asdict(d) for d in self.docs.values()]})

    def digest(self, doc_ids: list[str], fmt: str) -> str:
        h = hashlib.sha256(fmt.encode())
        for d in doc_ids:
            st = self.docs.get(d)
            h.update(f"{d}\0{st.status if st else '-'}\0{st.part if st else '-'}\0".encode())
        return h.hexdigest()

    def part_path(self, part: str, table: str) -> Path:
        return _part_path(self.parts, part, table)

    def write_part(self, result: dict) -> str:
        return result["part"] if "part" in result else write_part_files(self.parts, result)

    def reusable(self, doc_id: str, hash_: str, key: str) -> bool:
        d = self.docs.get(doc_id)
        return bool(d and d.status == "ok" and d.hash == hash_ and d.key == key and d.part
                    and self.part_path(d.part, "sentences").exists())

    def gc(self) -> None:
        """Delete part files no manifest entry points at (superseded or orphaned by a kill)."""
        live = {d.part for d in self.docs.values() if d.part}
        for f in self.parts.glob("*.parquet"):
            if f.name.split(".", 1)[0] not in live:
                f.unlink(missing_ok=True)
        for f in self.parts.glob(".*.tmp"):
            f.unlink(missing_ok=True)


# ---------------------------------------------------------------- the batch

@dataclass
class RunResult:
    out: Path
    exit_code: int
    summary: dict
    failures: list[dict] = field(default_factory=list)


MIN_CHUNK_BYTES = 8_000


class ChunkBudget:
    """Bytes per chunk with several workers (guided self-scheduling): ``total / (16 x workers)`` at
    first, then a quarter of the bytes not yet handed out per worker, never below
    ``MIN_CHUNK_BYTES``. The last chunks are small, so the workers finish close together."""

    def __init__(self, total_bytes: int, workers: int):
        self.remaining = total_bytes
        self.workers = workers
        self.cap = max(MIN_CHUNK_BYTES, total_bytes // (workers * 16))

    @property
    def current(self) -> int:
        return max(MIN_CHUNK_BYTES, min(self.cap, self.remaining // (self.workers * 4)))

    def consume(self, n: int) -> None:
        self.remaining = max(0, self.remaining - n)


def _resume_key(settings: Settings, model_version: str, nlp_desc: str) -> str:
    h = hashlib.sha256()
    parts = (__version__, model_version, nlp_desc, *settings.actor_files, str(settings.with_evidence))
    for part in parts + (("fast",) if settings.fast else ()):
        h.update(part.encode() + b"\0")
    for f in settings.actor_files:
        h.update(Path(f).read_bytes() if Path(f).exists() else b"")
    return h.hexdigest()[:20]


def _describe_nlp(name: str | None) -> str:
    """Name and version of the spaCy model, read from its meta.json without importing spaCy
    (a rerun with nothing to do should not pay for it)."""
    import importlib.metadata
    import importlib.util

    from .paths import default_spacy_model

    name = name or default_spacy_model()
    try:
        spacy_version = importlib.metadata.version("spacy")
    except importlib.metadata.PackageNotFoundError:
        spacy_version = "?"
    version = "?"
    spec = importlib.util.find_spec(name) if "/" not in name else None
    base = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else Path(name)
    for meta in [base / "meta.json", *sorted(base.glob("*/meta.json"))]:
        if meta.exists():
            try:
                version = json.loads(meta.read_text()).get("version", "?")
            except (OSError, json.JSONDecodeError):
                pass
            break
    return f"{name}=={version}@spacy{spacy_version}"


def process(
    inputs: list[str | Path],
    out: str | Path,
    *,
    model_dir: str | None = None,
    spacy_model: str | None = None,
    actor_files: tuple[str, ...] = (),
    fmt: str = "parquet",
    workers: int = 1,
    engine: str = "local",
    scheduler: str | None = None,
    chunk_docs: int = 24,
    batch_size: int = 4,
    force: bool = False,
    fast: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int, int], None] | None = None,
    on_failure: Callable[[dict], None] | None = None,
) -> RunResult:
    """Process briefs into tables under ``out``. Documents already done with the same content
    hash, model and settings are reused unless ``force``. Failures are collected, not raised.
    ``fast`` applies the model without its fine-tuned encoder (when it has one)."""
    from .classify import resolve_model_dir
    from .classify.model import CARD_FILE

    t_start = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if fmt not in FORMATS:
        from .errors import UsageError

        raise UsageError(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = discover(inputs)
    model_path = resolve_model_dir(model_dir)
    if not (model_path / CARD_FILE).exists():
        from .errors import ModelError

        raise ModelError("not a model directory (no card.json)", model_path)
    card = json.loads((model_path / CARD_FILE).read_text())
    settings = Settings(model_dir=str(model_path), spacy_model=spacy_model, actor_files=tuple(actor_files),
                        batch_size=batch_size, fast=fast)
    nlp_desc = _describe_nlp(spacy_model)
    key = _resume_key(settings, card.get("version", "?"), nlp_desc)
    state = State(out)
    timings = dict.fromkeys(STAGES, 0.0)
    failures: list[dict] = []
    inputs_report: list[dict] = []
    words = 0

    # 1. hash every input; decide what to (re)do
    todo: list[tuple[Path, str, bytes | None, str]] = []
    current_ids = set()
    t = time.perf_counter()
    first_path: dict[str, Path] = {}
    collisions: list[tuple[Path, str, Path]] = []
    for path, doc_id in files:
        if doc_id in first_path:
            collisions.append((path, doc_id, first_path[doc_id]))
            continue
        first_path[doc_id] = path
        current_ids.add(doc_id)
        try:
            data = path.read_bytes() if path.stat().st_size <= max_bytes else None
            h = content_hash(data) if data is not None else f"size:{path.stat().st_size}"
        except FileNotFoundError:
            data, h = None, "vanished"
        if not force and data is not None and state.reusable(doc_id, h, key):
            inputs_report.append({"doc_id": doc_id, "path": str(path), "hash": h, "status": "reused"})
            continue
        todo.append((path, doc_id, data, h))
    timings["ingest"] += time.perf_counter() - t

    # 2. stream briefs through the analyzer in chunks. With several workers a chunk also ends at a
    # byte budget, so no worker idles long at the end waiting for the other to finish a big chunk:
    # guided scheduling, a budget of at most a 16th of the input per worker that shrinks with what
    # is left (a quarter of it per worker), down to MIN_CHUNK_BYTES. Chunks keep the input order: a
    # part file then holds consecutive documents, which assembly reads in one pass.
    budget = None
    if workers > 1 or engine == "dask":
        total_bytes = sum(len(r[2]) for r in todo if r[2] is not None)
        budget = ChunkBudget(total_bytes, max(workers, 2))

    def fail(path, doc_id, h, err: BriefsError, remember: bool = True) -> None:
        """Report a document that failed; ``remember`` records it in the resume state (not for a
        doc_id collision, whose id belongs to the other file)."""
        rec = {"doc_id": doc_id, "hash": h, "status": "failed", **err.as_dict(), "path": str(path)}
        failures.append(rec)
        inputs_report.append(rec)
        if remember:
            state.docs[doc_id] = DocState(doc_id, str(path), h, key, "failed", None, err.message, err.code)
        if on_failure:
            on_failure(rec)

    def chunks() -> Iterator[list[Brief]]:
        nonlocal words
        buf: list[Brief] = []
        buf_bytes = 0
        for path, doc_id, data, h in todo:
            t0 = time.perf_counter()
            try:
                if data is None:
                    from .ingest import read_brief

                    brief = read_brief(path, doc_id, max_bytes=max_bytes)
                else:
                    if not path.exists():
                        from .errors import Vanished

                        raise Vanished("file disappeared during the run", path)
                    brief = brief_from_bytes(data, path, doc_id)
            except InputError as e:
                fail(path, doc_id, h, e)
                continue
            except Exception as e:  # a reader bug must not take the batch down
                fail(path, doc_id, h, InputError(f"unexpected {type(e).__name__}: {e}", path))
                continue
            finally:
                timings["ingest"] += time.perf_counter() - t0
            buf.append(brief)
            buf_bytes += len(data) if data is not None else len(brief.text.encode("utf-8", "replace"))
            if len(buf) >= chunk_docs or (budget is not None and buf_bytes >= budget.current):
                if budget is not None:
                    budget.consume(buf_bytes)
                yield buf
                buf, buf_bytes = [], 0
        if buf:
            yield buf

    for path, doc_id, other in collisions:
        fail(path, doc_id, None, InputError(f"has the same doc_id {doc_id!r} as {other}; rename one of them", path),
             remember=False)

    done = 0
    total = len(todo)

    def collect(result: dict, briefs: list[Brief]) -> None:
        nonlocal done, words
        t0 = time.perf_counter()
        part = state.write_part(result)
        for b in briefs:
            state.docs[b.doc_id] = DocState(b.doc_id, b.path, b.content_hash, key, "ok", part)
            inputs_report.append({"doc_id": b.doc_id, "path": b.path, "hash": b.content_hash, "status": "processed"})
        state.save()
        for k, v in result["timings"].items():
            timings[k] += v
        timings["write"] += time.perf_counter() - t0
        words += result["words"]
        done += len(briefs)
        if progress:
            progress(done, total)

    if engine == "dask":
        from .engines.dask_engine import run_dask

        run_dask(chunks(), settings, collect, scheduler=scheduler, workers=workers)
    elif workers <= 1:
        analyzer = Analyzer(settings) if todo else None
        for chunk in chunks():
            collect(analyzer.analyse(chunk), chunk)
    else:
        import multiprocessing as mp
        import threading

        # On Linux, fork when this process has no other thread: workers start with the modules
        # already imported here (pandas, scikit-learn, spaCy: about 2 s each under spawn). Spawn everywhere else, and
        # whenever a thread exists, since forking a threaded process can inherit held locks.
        method = "fork" if sys.platform.startswith("linux") and threading.active_count() == 1 else "spawn"
        ctx = mp.get_context(method)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(settings,)) as pool:
            pending: dict = {}
            for chunk in chunks():
                pending[pool.submit(_worker_analyse, chunk, str(state.parts))] = chunk
                if len(pending) >= workers * 2:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        collect(fut.result(), pending.pop(fut))
            for fut in list(pending):
                collect(fut.result(), pending.pop(fut))

    # 3. forget documents no longer among the inputs; assemble the tables
    for doc_id in list(state.docs):
        if doc_id not in current_ids:
            del state.docs[doc_id]
    state.save()
    state.gc()
    t = time.perf_counter()
    ids = sorted(current_ids)
    digest = state.digest(ids, fmt)
    if digest == state.tables_digest and all((out / f"{n}{EXTENSIONS[fmt]}").exists() for n in TABLES):
        counts = _previous_counts(out)  # nothing changed since the tables were written: keep them
    else:
        state.tables_digest = None
        state.save()
        counts = assemble_tables(state, out, fmt, ids)
        state.tables_digest = digest
        state.save()
    timings["write"] += time.perf_counter() - t

    n_failed = len(failures)
    summary = {
        "documents": len(files),
        "processed": sum(1 for r in inputs_report if r["status"] == "processed"),
        "reused": sum(1 for r in inputs_report if r["status"] == "reused"),
        "failed": n_failed,
        "words_processed": words,
        **{f"rows_{k}": v for k, v in counts.items()},
    }
    elapsed = time.perf_counter() - t_start
    run = {
        "pipeline_version": __version__,
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "elapsed_seconds": round(elapsed, 3),
        "command": " ".join(sys.argv),
        "settings": {"format": fmt, "workers": workers, "engine": engine, "chunk_docs": chunk_docs,
                     "batch_size": batch_size, "force": force, "max_bytes": max_bytes,
                     "actor_files": list(actor_files)},
        "model": {"id": card.get("version"), "path": str(model_path), "card": card,
                  "encoder": bool(card.get("encoder_weight")) and not fast},
        "spacy": {"model": nlp_desc},
        "counts": summary,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "words_per_second": round(words / elapsed, 1) if words and elapsed else None,
        "failures": failures,
        "inputs": sorted(inputs_report, key=lambda r: r["doc_id"]),
    }
    write_json(out / "run.json", run)
    return RunResult(out, EXIT_SOME_FAILED if n_failed else EXIT_OK, summary, failures)


def _previous_counts(out: Path) -> dict:
    """Row counts of the tables left in place, from the last run.json (else by reading them)."""
    try:
        prev = json.loads((out / "run.json").read_text())["counts"]
        return {name: prev[f"rows_{name}"] for name in TABLES}
    except (OSError, KeyError, json.JSONDecodeError):
        return {name: len(read_table(out, name)) for name in TABLES}


def assemble_tables(state: State, out: Path, fmt: str, doc_ids: list[str], flush_rows: int = 50_000) -> dict:
    """Stream the part files into the final tables, in doc_id order, one document at a time.

    Reads each part once in a fresh run (parts hold consecutive documents); a small cache of
    parts keeps memory bounded in resumed runs. Tables are replaced atomically at the end.
    """
    ok = [d for d in doc_ids if d in state.docs and state.docs[d].status == "ok"]
    writers = {name: TableWriter(out, name, fmt) for name in TABLES}
    cache: OrderedDict[str, dict[str, pd.DataFrame]] = OrderedDict()
    buffers: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    buffered = 0
    try:
        for doc_id in ok:
            part = state.docs[doc_id].part
            if part not in cache:
                cache[part] = {t: _read_part(state, part, t) for t in ("sentences", "entities", "documents")}
                if len(cache) > 4:
                    cache.popitem(last=False)
            tables = cache[part]
            pieces = {t: tables[t].get_group(doc_id) if doc_id in tables[t].groups else None
                      for t in ("sentences", "entities", "documents")}
            for t, df in pieces.items():
                if df is not None:
                    buffers[t].append(df)
                    buffered += len(df)
            if buffered >= flush_rows:
                _flush(writers, buffers)
                buffered = 0
        _flush(writers, buffers)
        counts = {}
        for name, w in writers.items():
            w.commit()
            counts[name] = w.rows
        return counts
    except BaseException:
        for w in writers.values():
            w.abort()
        raise


def _read_part(state: State, part: str, table: str):
    df = pq.read_table(state.part_path(part, table)).to_pandas()
    for col in ("actors", "evidence", "top_actors"):
        if col in df.columns:
            df[col] = [list(v) if v is not None else [] for v in df[col]]
    return df.groupby("doc_id", sort=False)


def _flush(writers: dict[str, TableWriter], buffers: dict[str, list[pd.DataFrame]]) -> None:
    """Write the buffered rows; the dyads of the buffered documents are computed here, in one go."""
    if buffers["sentences"]:
        buffers["dyads"] = [dyads_table(pd.concat(buffers["sentences"], ignore_index=True))]
    for name, dfs in buffers.items():
        dfs = [d for d in dfs if len(d)]
        if dfs:
            writers[name].write(pd.concat(dfs, ignore_index=True))
        buffers[name] = []
