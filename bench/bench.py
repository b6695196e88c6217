"""Throughput and memory benchmark of `briefs process`, side by side with spaCy in the same run.

    .venv/bin/python bench/bench.py                      # ../shared/corpora, 1x and 10x
    .venv/bin/python bench/bench.py --scale 0            # 1x only
    .venv/bin/python bench/bench.py --corpus DIR --out bench/results/mine.json

Measures, on the same texts:
  - spaCy's own ``nlp.pipe`` with the same model and the same enabled components (tok2vec, parser,
    ner), the same batch size as ``briefs process`` (``--batch-size``, 4), one process, model
    already loaded; and the same with ``n_process=2``, the machine's own two-process scaling;
  - a naive loop calling the full ``nlp(text)`` per document (every component of the model);
  - ``briefs process`` with 1 and 2 worker processes (fresh output), and a rerun over unchanged
    inputs; each as a subprocess whose peak resident memory (process tree) is sampled. Its time is
    the whole run (reading files, loading spaCy and the classifier, writing tables);
  - ``briefs process`` over a corpus made by repeating the inputs ``--scale`` times.
The machine's speed drifts by up to a quarter between minutes (a shared virtual machine), so the
1x measurements are taken in ``--repeat`` interleaved rounds (nlp.pipe, nlp.pipe with two
processes, 1 worker, 2 workers); the table gives each one's median, and each ratio is the median
of the per-round ratios (min and max beside it). Each 1x measurement also records the CPU time the
hypervisor stole from this virtual machine while it ran (``steal`` in /proc/stat, as a share of
all CPUs' time; Linux only): the usual cause of the drift, and of a round that stands out.
Words are whitespace-separated tokens of the raw texts. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 4
EXTRA: list[str] = []  # options given to every `briefs process` run (--fast, --model)
sys.path.insert(0, str(ROOT))


def steal_ticks() -> int | None:
    """CPU time stolen by the hypervisor so far, over all CPUs, in clock ticks (None off Linux)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8])  # cpu user nice system idle iowait irq softirq steal ...
    except (OSError, IndexError, ValueError):
        return None


class StealMeter:
    """Share of the machine's CPU time stolen during a measurement (0.25: a quarter)."""

    def __init__(self):
        self.t0, self.s0 = time.perf_counter(), steal_ticks()

    def share(self) -> float | None:
        s1 = steal_ticks()
        if self.s0 is None or s1 is None:
            return None
        wall = time.perf_counter() - self.t0
        return round((s1 - self.s0) / os.sysconf("SC_CLK_TCK") / (wall * (os.cpu_count() or 1)), 3)


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*.txt") if p.name.lower() not in ("readme.txt",))


def words_of(files: list[Path]) -> int:
    return sum(len(p.read_text(encoding="utf-8", errors="replace").split()) for p in files)


class PeakRSS:
    """Samples the resident memory of a process and its children every 0.1 s."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs if p.is_running())
                self.peak = max(self.peak, rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
            time.sleep(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return self.peak


def run_briefs(inputs: Path, out: Path, workers: int, extra: list[str] | None = None) -> dict:
    cmd = [str(ROOT / ".venv" / "bin" / "briefs"), "process", str(inputs), "--out", str(out), "-q",
           "--workers", str(workers), "--batch-size", str(BATCH), *EXTRA, *(extra or [])]
    if not Path(cmd[0]).exists():
        cmd[0:1] = [sys.executable, "-m", "pipeline.cli"]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mon = PeakRSS(proc.pid)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    peak = mon.stop()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"briefs process failed ({proc.returncode}): {stderr[-2000:]}")
    run = json.loads((out / "run.json").read_text())
    return {"wall_seconds": round(wall, 2), "run_seconds": run["elapsed_seconds"], "peak_rss_mb": round(peak / 2**20),
            "timings_seconds": run["timings_seconds"], "documents": run["counts"]["documents"],
            "processed": run["counts"]["processed"], "reused": run["counts"]["reused"],
            "failed": run["counts"]["failed"], "words_processed": run["counts"]["words_processed"]}


def load_pipe(model: str | None):
    import spacy

    from pipeline.extract.nlp import UNUSED, default_model_name

    name = model or default_model_name()
    return name, spacy.load(name, exclude=list(UNUSED))


def pipe_seconds(nlp, texts: list[str], batch_size: int, n_process: int = 1) -> float:
    t = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
        pass
    return round(time.perf_counter() - t, 2)


def naive_baseline(name: str, texts: list[str]) -> dict:
    import spacy

    out = {}
    full = spacy.load(name)
    out["naive_components"] = full.pipe_names
    t = time.perf_counter()
    for text in texts:
        full(text)
    out["naive_seconds"] = round(time.perf_counter() - t, 2)
    return out


def _median_run(runs: list[dict], key: str) -> dict:
    """The run with the median ``key`` (the lower one of two for an even count)."""
    return sorted(runs, key=lambda r: r[key])[(len(runs) - 1) // 2]


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def repeated_corpus(files: list[Path], corpus: Path, scale: int, dest: Path) -> Path:
    for i in range(scale):
        for f in files:
            target = dest / f"copy{i:02d}" / f.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f.resolve(), target)
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--scale", type=int, default=10, help="repeat the corpus this many times for the scale run (0: skip)")
    ap.add_argument("--scale-workers", type=int, default=2)
    ap.add_argument("--spacy-model", default=None)
    ap.add_argument("--batch-size", type=int, default=4, help="for nlp.pipe and briefs process alike")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds of the 1x measurements (medians)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    ap.add_argument("--fast", action="store_true", help="run `briefs process --fast` (the model without its encoder)")
    ap.add_argument("--model", default=None, help="model directory or version for `briefs process` (default: current)")
    args = ap.parse_args(argv)
    global BATCH
    BATCH = args.batch_size
    EXTRA[:] = (["--fast"] if args.fast else []) + (["--model", args.model] if args.model else [])
    files = corpus_files(args.corpus)
    if not files:
        raise SystemExit(f"no .txt files under {args.corpus}")
    words = words_of(files)
    print(f"corpus: {len(files)} documents, {words:,} words ({args.corpus})", flush=True)
    res = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "corpus": str(args.corpus),
           "documents": len(files), "words": words, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
           "platform": platform.platform()}, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
           "briefs_options": list(EXTRA)}
    tmp = Path(tempfile.mkdtemp(prefix="briefs-bench-"))
    try:
        texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
        name, nlp = load_pipe(args.spacy_model)
        res["spacy"] = {"model": name, "pipe_components": nlp.pipe_names, "batch_size": args.batch_size}
        del nlp
        inputs = tmp / "in"
        inputs.mkdir()
        for f in files:  # a private copy so reruns see identical, unchanged files
            t = inputs / f.relative_to(args.corpus)
            t.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, t)
        rounds = []
        for i in range(args.repeat):
            print(f"round {i + 1}/{args.repeat}: spaCy nlp.pipe ...", flush=True)
            # a freshly loaded pipeline each round, as `briefs process` starts with one: a warm
            # vocabulary (lexemes made in the round before) would favour nlp.pipe; load not timed
            _, nlp = load_pipe(args.spacy_model)
            steal = {}
            meter = StealMeter()
            rnd = {"pipe_seconds": pipe_seconds(nlp, texts, args.batch_size)}
            steal["pipe"] = meter.share()
            del nlp
            # the machine's own two-process scaling, as a reference for briefs' 2 workers
            _, nlp = load_pipe(args.spacy_model)
            meter = StealMeter()
            rnd["pipe2_seconds"] = pipe_seconds(nlp, texts, args.batch_size, n_process=2)
            steal["pipe2"] = meter.share()
            del nlp
            for workers in (1, 2):
                print(f"round {i + 1}/{args.repeat}: briefs process, {workers} worker(s) ...", flush=True)
                out = tmp / f"out{workers}"
                shutil.rmtree(out, ignore_errors=True)
                meter = StealMeter()
                rnd[f"briefs_{workers}"] = run_briefs(inputs, out, workers)
                steal[f"briefs_{workers}"] = meter.share()
            rnd["steal_share"] = steal
            rnd["briefs_1_vs_nlp_pipe"] = round(rnd["pipe_seconds"] / rnd["briefs_1"]["run_seconds"], 3)
            rnd["briefs_2_vs_briefs_1"] = round(rnd["briefs_1"]["run_seconds"] / rnd["briefs_2"]["run_seconds"], 3)
            rnd["pipe_2proc_vs_1proc"] = round(rnd["pipe_seconds"] / rnd["pipe2_seconds"], 3)
            print(f"  nlp.pipe {rnd['pipe_seconds']} s, nlp.pipe n_process=2 {rnd['pipe2_seconds']} s, "
                  f"1 worker {rnd['briefs_1']['run_seconds']} s, 2 workers {rnd['briefs_2']['run_seconds']} s; "
                  f"stolen CPU share {steal}", flush=True)
            rounds.append(rnd)
        res["rounds"] = rounds
        res["spacy"]["pipe_seconds"] = round(_median([r["pipe_seconds"] for r in rounds]), 2)
        res["spacy"]["pipe_words_per_second"] = round(words / res["spacy"]["pipe_seconds"])
        res["spacy"]["pipe2_seconds"] = round(_median([r["pipe2_seconds"] for r in rounds]), 2)
        res["spacy"]["pipe2_words_per_second"] = round(words / res["spacy"]["pipe2_seconds"])
        for workers in (1, 2):
            runs = [r[f"briefs_{workers}"] for r in rounds]
            r = dict(_median_run(runs, "run_seconds"))  # the median run, with its stage times
            r["run_seconds_all"] = [x["run_seconds"] for x in runs]
            r["peak_rss_mb"] = max(x["peak_rss_mb"] for x in runs)
            r["words_per_second"] = round(words / r["run_seconds"])
            r["documents_per_second"] = round(len(files) / r["run_seconds"], 2)
            res[f"briefs_{workers}"] = r
        print("naive nlp(text) loop ...", flush=True)
        res["spacy"].update(naive_baseline(name, texts))
        res["spacy"]["naive_words_per_second"] = round(words / res["spacy"]["naive_seconds"])
        del texts
        print("rerun over unchanged inputs ...", flush=True)
        rerun = run_briefs(inputs, tmp / "out1", 1)
        res["rerun"] = rerun
        first = _median_run([r["briefs_1"] for r in rounds], "wall_seconds")["wall_seconds"]
        res["rerun"]["share_of_first_run"] = round(rerun["wall_seconds"] / first, 4)
        if args.scale:
            print(f"briefs process over the corpus repeated {args.scale}x, {args.scale_workers} worker(s) ...", flush=True)
            big = repeated_corpus(files, args.corpus, args.scale, tmp / "big")
            r = run_briefs(big, tmp / "outbig", args.scale_workers)
            r["words"] = words * args.scale
            r["words_per_second"] = round(r["words"] / r["run_seconds"])
            res[f"scale_{args.scale}x"] = r
        res["ratios"] = {}
        for k in ("briefs_1_vs_nlp_pipe", "briefs_2_vs_briefs_1", "pipe_2proc_vs_1proc"):
            xs = [r[k] for r in rounds]
            res["ratios"][k] = round(_median(xs), 3)
            res["ratios"][k + "_min_max"] = [min(xs), max(xs)]
        res["ratios"]["rerun_share"] = res["rerun"]["share_of_first_run"]
        if args.scale:
            res["ratios"][f"peak_rss_{args.scale}x_vs_1x_same_workers"] = round(
                res[f"scale_{args.scale}x"]["peak_rss_mb"] / res[f"briefs_{args.scale_workers}"]["peak_rss_mb"], 3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(render(res))
    print(f"written to {args.out}")
    return 0


def render(res: dict) -> str:
    sp = res["spacy"]
    lines = [f"{res['documents']} documents, {res['words']:,} words; {res['machine']['cpus']} CPUs; {res['date']}"
             + (f"; briefs process {' '.join(res['briefs_options'])}" if res.get("briefs_options") else ""),
             f"{'what':<46}{'seconds':>9}{'words/s':>10}{'docs/s':>8}{'peak RSS MB':>13}",
             f"{'spaCy nlp.pipe (' + ', '.join(sp['pipe_components']) + ')':<46}{sp['pipe_seconds']:>9}{sp['pipe_words_per_second']:>10,}",
             f"{'spaCy nlp.pipe, n_process=2':<46}{sp['pipe2_seconds']:>9}{sp['pipe2_words_per_second']:>10,}",
             f"{'naive nlp(text) loop, full pipeline':<46}{sp['naive_seconds']:>9}{sp['naive_words_per_second']:>10,}"]
    for key, name in (("briefs_1", "briefs process, 1 worker"), ("briefs_2", "briefs process, 2 workers")):
        r = res[key]
        lines.append(f"{name:<46}{r['run_seconds']:>9}{r['words_per_second']:>10,}{r['documents_per_second']:>8}{r['peak_rss_mb']:>13}")
    r = res["rerun"]
    lines.append(f"{'rerun, unchanged inputs (wall)':<46}{r['wall_seconds']:>9}{'':>10}{'':>8}{r['peak_rss_mb']:>13}")
    for key in [k for k in res if k.startswith("scale_")]:
        r = res[key]
        lines.append(f"{'briefs process, corpus ' + key[6:] + ' (' + str(r['documents']) + ' docs)':<46}"
                     f"{r['run_seconds']:>9}{r['words_per_second']:>10,}{'':>8}{r['peak_rss_mb']:>13}")
    t = res["briefs_1"]["timings_seconds"]
    lines.append("time per stage, 1 worker (s): " + ", ".join(f"{k} {v}" for k, v in t.items()))
    lines.append("ratios: " + ", ".join(f"{k} {v}" for k, v in res["ratios"].items()))
    shares = [v for r in res.get("rounds", []) for v in (r.get("steal_share") or {}).values() if v is not None]
    if shares:
        lines.append(f"CPU time stolen by the hypervisor during the 1x measurements: {min(shares):.0%} to {max(shares):.0%}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
