#!/usr/bin/env python3
"""Benchmark `manage.py lintmigrations` (safe_migrations) against its peers and Django floors.

Every measurement is one fresh child process; the parent records its wall time
and, through os.wait4(), its peak resident set size (the kernel's ru_maxrss of
the child, which also covers the child's own reaped children: the largest
process of the tree, not a sum).  With --repeat N the median is reported.

Run `python benchmarks/run.py --setup` once to build benchmarks/.venv, then
`python benchmarks/run.py` (any Python >= 3.10 can run this orchestrator; the
children use the benchmark venv's interpreter).  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import project as projects  # noqa: E402  (sibling helper module)

DEFAULT_VENV = HERE / ".venv"
DEFAULT_BASE_PYTHON = Path.home() / ".pyenv/versions/3.12.1/bin/python"
PROBES = HERE / "probes.py"

TOOLS = ("ours", "dml", "dsm", "floors")
PROJECT_KINDS = ("synthetic", "wagtail", "oscar")
OURS_MODES = ("cold", "warm", "replay", "since")
SETUP_RUNS = 3  # django.setup() baseline runs per repetition

LABELS = {
    "setup": "django.setup() alone (baseline)",
    "statewalk": "floor: load graph + state walk",
    "render": "floor: state walk + 1 tiny model class per operation",
    "collectsql": "floor: Django collect_sql, one pass",
    "ours:cold": "ours: cold (empty cache)",
    "ours:warm": "ours: warm (cache kept)",
    "ours:replay": "ours: warm, python -m safe_migrations",
    "ours:since": "ours: --since HEAD, 1 changed",
    "dml": "django-migration-linter",
    "dml:warm": "django-migration-linter: warm cache",
    "dsm": "django-safe-migrations",
    "dsm:warm": "django-safe-migrations: warm cache",
}

# exit codes that mean "ran fine" (1 = findings for the linters)
OK_CODES = {"ours": {0, 1}, "dml": {0, 1}, "dsm": {0, 1}, "probe": {0}}


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall_s: float
    maxrss_mb: float
    rc: int | None
    ok: bool
    timed_out: bool = False
    info: dict = field(default_factory=dict)
    log: str = ""


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def measure(cmd: list[str], *, cwd: Path, env: dict, timeout: float, log: Path, ok_codes: set[int]) -> Sample:
    """Run cmd in a new process group; wall time and peak RSS from wait4()."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log.with_name(log.name + ".out"), "wb") as out,
        open(log.with_name(log.name + ".err"), "wb") as err,
    ):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout, on_timeout)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc  # already reaped; keep Popen from waiting again
    info: dict = {}
    stdout_text = log.with_name(log.name + ".out").read_text(errors="replace")
    last = stdout_text.strip().splitlines()[-1:] if stdout_text.strip() else []
    if last and last[0].startswith("{"):
        try:
            info = json.loads(last[0])
        except ValueError:
            info = {}
    ok = (not timed_out.is_set()) and rc in ok_codes
    return Sample(
        wall_s=wall,
        maxrss_mb=usage.ru_maxrss / 1024.0,  # Linux: kilobytes
        rc=rc,
        ok=ok,
        timed_out=timed_out.is_set(),
        info=info,
        log=str(log),
    )


def tail(path: str, suffix: str, lines: int = 12) -> str:
    p = Path(path + suffix)
    if not p.exists():
        return ""
    text = p.read_text(errors="replace").rstrip().splitlines()
    return "\n".join(text[-lines:])


# --------------------------------------------------------------------------- database


def pg_admin(python: str, env: dict, sql: str) -> None:
    code = (
        "import os, psycopg\n"
        "conn = psycopg.connect(host=os.environ['BENCH_PG_HOST'], port=os.environ['BENCH_PG_PORT'],"
        " user=os.environ['BENCH_PG_USER'], password=os.environ.get('BENCH_PG_PASSWORD') or None,"
        " dbname='postgres', autocommit=True)\n"
        "conn.execute(os.environ['BENCH_SQL'])\n"
    )
    subprocess.run([python, "-c", code], env={**env, "BENCH_SQL": sql}, check=True)


# --------------------------------------------------------------------------- projects


@dataclass
class Project:
    name: str
    kind: str  # "synthetic" or a REAL key
    root: Path
    n_requested: int = 0
    change: object = None
    db_name: str = ""
    target_labels: list[str] = field(default_factory=list)  # empty: lint everything first-party
    graph_migrations: int = 0
    linted_migrations: int = 0


def build_project(kind: str, n: int, workdir: Path, seed: int) -> Project:
    name = f"synthetic-{n}" if kind == "synthetic" else kind
    root = workdir / name
    if root.exists():
        shutil.rmtree(root)
    if kind == "synthetic":
        made = projects.make_synthetic(root, n, seed)
    else:
        made = projects.make_real(root, kind)
    projects.git_init(root)
    return Project(name=name, kind=kind, root=root, n_requested=n, change=made["change"])


# --------------------------------------------------------------------------- the run


def child_env(args: argparse.Namespace, proj: Project, settings: str, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    for var in ("VIRTUAL_ENV", "PYTHONHOME", "DJANGO_SETTINGS_MODULE"):
        env.pop(var, None)
    env.update(
        DJANGO_SETTINGS_MODULE=f"benchsettings.{settings}",
        PYTHONPATH=str(proj.root),
        BENCH_DB_NAME=proj.db_name,
        BENCH_PG_HOST=args.pg_host,
        BENCH_PG_PORT=str(args.pg_port),
        BENCH_PG_USER=args.pg_user,
        BENCH_PG_PASSWORD=args.pg_password,
    )
    if extra:
        env.update(extra)
    return env


def ours_importable(python: str, cwd: Path) -> tuple[bool, str]:
    # cwd matters: from the repository root the package imports without being installed
    r = subprocess.run(
        [python, "-c", "import safe_migrations, safe_migrations.management.commands.lintmigrations"],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


def ours_takes_many_labels(python: str, proj: Project, env: dict) -> bool:
    r = subprocess.run(
        [python, "manage.py", "lintmigrations", "--help"],
        cwd=proj.root,
        env=env,
        capture_output=True,
        text=True,
    )
    usage = r.stdout.split("\n\n")[0]
    return "app_label ..." in usage or "app_labels ...]" in usage


class Runner:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.python = args.python
        self.results: dict[str, dict] = {}
        self.notes: dict[str, list[str]] = {}
        self.meta: dict[str, dict] = {}

    def say(self, msg: str) -> None:
        print(msg, flush=True)

    def run_one(
        self,
        proj: Project,
        key: str,
        cmd: list[str],
        settings: str,
        ok: set[int],
        extra_env: dict | None = None,
        rep: int = 0,
    ) -> Sample:
        log = self.args.workdir / "logs" / proj.name / f"{key.replace(':', '-')}-rep{rep}"
        env = child_env(self.args, proj, settings, extra_env)
        s = measure(cmd, cwd=proj.root, env=env, timeout=self.args.timeout, log=log, ok_codes=ok)
        status = "ok" if s.ok else ("TIMEOUT" if s.timed_out else f"FAILED rc={s.rc}")
        self.say(f"    {LABELS.get(key, key):38s} {s.wall_s:9.2f} s {s.maxrss_mb:8.1f} MB  {status}")
        if not s.ok:
            err = tail(s.log, ".err") or tail(s.log, ".out")
            out_path = Path(s.log + ".out")
            errors = (
                [
                    line
                    for line in out_path.read_text(errors="replace").splitlines()
                    if line.lower().startswith("error:")
                ]
                if out_path.exists()
                else []
            )
            shown = "\n".join([*(e[:400] for e in errors[:8]), err])
            if shown.strip():
                self.say("      | " + shown.replace("\n", "\n      | "))
            if rep == 0:
                self.notes.setdefault(proj.name, []).append(
                    f"{LABELS.get(key, key)}: {status}"
                    + (f", {len(errors)} 'error:' line(s), first: {errors[0][:300]}" if errors else "")
                    + f" (log: {s.log}.out/.err)"
                )
        self.results.setdefault(proj.name, {}).setdefault(key, []).append(s)
        return s

    def probe(self, proj: Project, mode: str, settings: str = "plain", rep: int = 0) -> Sample:
        return self.run_one(
            proj, mode, [self.python, str(PROBES), mode], settings, OK_CODES["probe"], rep=rep
        )

    def quiet_probe(self, proj: Project, mode: str, settings: str) -> dict:
        env = child_env(self.args, proj, settings)
        r = subprocess.run(
            [self.python, str(PROBES), mode], cwd=proj.root, env=env, capture_output=True, text=True
        )
        if r.returncode != 0:
            raise RuntimeError(f"probe {mode} failed in {proj.name}:\n{r.stderr[-3000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    # ---------------------------------------------------------------- one project
    def bench_project(self, proj: Project) -> None:
        a = self.args
        notes = self.notes.setdefault(proj.name, [])
        self.say(f"\n== {proj.name}: preparing {proj.root}")
        # Byte-compile the project and our package (an editable install is not compiled by pip,
        # and PYTHONDONTWRITEBYTECODE may be set): no row pays for compiling source.
        ours = REPO / "safe_migrations"
        targets = [str(proj.root), *([str(ours)] if ours.is_dir() else [])]
        subprocess.run(
            [self.python, "-m", "compileall", "-q", *targets], check=True, stdout=subprocess.DEVNULL
        )
        proj.db_name = f"migbench_{os.getpid()}_{re.sub(r'[^a-z0-9]', '_', proj.name.lower())}"
        env0 = child_env(a, proj, "plain")
        pg_admin(self.python, env0, f'DROP DATABASE IF EXISTS "{proj.db_name}"')
        pg_admin(self.python, env0, f'CREATE DATABASE "{proj.db_name}"')
        try:
            self._bench_project(proj, notes)
        finally:
            if not a.keep:
                pg_admin(self.python, env0, f'DROP DATABASE IF EXISTS "{proj.db_name}"')

    def _bench_project(self, proj: Project, notes: list[str]) -> None:
        a = self.args
        info = self.quiet_probe(proj, "labels", "plain")  # also warms imports and the page cache
        per_label = info["migrations_per_label"]
        proj.graph_migrations = sum(per_label.values())
        if proj.kind != "synthetic":
            prefix = projects.REAL[proj.kind][3]
            proj.target_labels = sorted(
                label
                for label, module in info["labels"].items()
                if module == prefix or module.startswith(prefix + ".") or label == "benchlocal"
            )
            proj.linted_migrations = sum(per_label[label] for label in proj.target_labels)
        else:
            proj.linted_migrations = sum(n for label, n in per_label.items() if label.startswith("app"))
        self.meta[proj.name] = {
            "graph_migrations": proj.graph_migrations,
            "linted_migrations": proj.linted_migrations,
            "target_labels": proj.target_labels,
        }
        self.say(
            f"   {proj.graph_migrations} migrations in the graph, {proj.linted_migrations} to lint"
            + (f" ({len(proj.target_labels)} app labels)" if proj.target_labels else "")
        )

        tools = set(a.tools)
        run_ours = "ours" in tools and self.ours_ok
        if "ours" in tools and not self.ours_ok:
            notes.append("ours skipped: safe_migrations is not importable in the benchmark venv")
        ours_labels: list[str] = []
        if run_ours:
            ours_env = child_env(a, proj, "ours")
            self.quiet_probe(proj, "setup", "ours")  # warm-up: import the tool once
            if proj.target_labels:
                if ours_takes_many_labels(self.python, proj, ours_env):
                    ours_labels = ["--include-third-party", *proj.target_labels]
                else:
                    ours_labels = ["--include-third-party"]
                    notes.append(
                        "ours: the command takes one app label, so it linted every installed app "
                        "(--include-third-party, no labels), Django's contrib apps included"
                    )
        run_dml = "dml" in tools
        if run_dml and proj.linted_migrations > a.dml_max_migrations:
            run_dml = False
            notes.append(
                f"django-migration-linter skipped: {proj.linted_migrations} migrations > "
                f"--dml-max-migrations {a.dml_max_migrations} (it runs sqlmigrate once per "
                "migration, quadratic in history length)"
            )
        if run_dml:
            self.quiet_probe(proj, "setup", "dml")
        if "dsm" in tools:
            self.quiet_probe(proj, "setup", "dsm")

        cache_dir = a.workdir / "cache" / proj.name
        for rep in range(a.repeat):
            if a.repeat > 1:
                self.say(f"  -- repetition {rep + 1}/{a.repeat}")
            for _ in range(SETUP_RUNS):  # cheap and noise-prone: the baseline is the median of a few
                self.probe(proj, "setup", "ours" if run_ours else "plain", rep)
            if "floors" in tools:
                self.probe(proj, "statewalk", "plain", rep)
                self.probe(proj, "render", "plain", rep)
                s = self.probe(proj, "collectsql", "plain", rep)
                failed = s.info.get("failed") or []
                if failed and rep == 0:
                    notes.append(
                        f"collect_sql floor: {len(failed)} migration(s) need introspection of an "
                        "existing table and fail on the empty scratch database (skipped, state "
                        "rebuilt): " + "; ".join(f.split(":")[0] for f in failed)
                    )
            if run_ours:
                self.bench_ours(proj, cache_dir, ours_labels, rep)
            peer_cache = a.workdir / "peer-cache" / proj.name
            if peer_cache.exists():
                shutil.rmtree(peer_cache)
            peer_cache.mkdir(parents=True)
            if "dsm" in tools:
                cmd = [self.python, "manage.py", "check_migrations", *proj.target_labels, *a.dsm_args]
                if a.peer_warm:  # cold run fills a fresh cache, then the warm run reads it
                    cmd += ["--cache-file", str(peer_cache / "dsm.json")]
                self.run_one(proj, "dsm", cmd, "dsm", OK_CODES["dsm"], rep=rep)
                if a.peer_warm:
                    self.run_one(proj, "dsm:warm", cmd, "dsm", OK_CODES["dsm"], rep=rep)
            if run_dml:
                cmd = [self.python, "manage.py", "lintmigrations", "--ignore-sqlmigrate-errors"]
                cmd += ["--cache-path", str(peer_cache / "dml")] if a.peer_warm else ["--no-cache"]
                if proj.target_labels:
                    cmd += ["--include-apps", *proj.target_labels]
                cmd += a.dml_args
                self.run_one(proj, "dml", cmd, "dml", OK_CODES["dml"], rep=rep)
                if a.peer_warm:
                    self.run_one(proj, "dml:warm", cmd, "dml", OK_CODES["dml"], rep=rep)
        if run_dml:
            err_log = a.workdir / "logs" / proj.name / "dml-rep0.err"
            n = (
                err_log.read_text(errors="replace").count("Error while executing sqlmigrate")
                if err_log.exists()
                else 0
            )
            if n:
                notes.append(
                    f"django-migration-linter: sqlmigrate failed on {n} migration(s) against the empty "
                    "scratch database (--ignore-sqlmigrate-errors; those migrations are not linted)"
                )

    def bench_ours(self, proj: Project, cache_dir: Path, labels: list[str], rep: int) -> None:
        a = self.args
        base = [self.python, "manage.py", "lintmigrations", *labels, *a.ours_args]
        env = {"BENCH_OURS_CACHE_DIR": str(cache_dir)}
        modes = [m for m in OURS_MODES if m in a.ours_modes]
        if cache_dir.exists():
            shutil.rmtree(cache_dir)

        def unmeasured(cmd: list[str], log: str) -> None:
            measure(
                cmd,
                cwd=proj.root,
                env=child_env(a, proj, "ours", env),
                timeout=a.timeout,
                log=a.workdir / "logs" / proj.name / f"{log}-rep{rep}",
                ok_codes=OK_CODES["ours"],
            )

        if modes:
            if "cold" in modes:
                self.run_one(proj, "ours:cold", base, "ours", OK_CODES["ours"], env, rep)
            else:
                unmeasured(base, "ours-fill")  # fill the cache
        if "warm" in modes:
            self.run_one(proj, "ours:warm", base, "ours", OK_CODES["ours"], env, rep)
        if "replay" in modes:
            # The module entry point records its first run (unmeasured) and answers the
            # second from that record when nothing it read has changed.
            module = [self.python, "-m", "safe_migrations", *labels, *a.ours_args]
            unmeasured(module, "ours-record")
            self.run_one(proj, "ours:replay", module, "ours", OK_CODES["ours"], env, rep)
        if "since" in modes:
            changed = proj.change()
            try:
                self.run_one(
                    proj, "ours:since", [*base, "--since", "HEAD"], "ours", OK_CODES["ours"], env, rep
                )
            finally:
                projects.git_restore(proj.root)
            if rep == 0:
                self.notes[proj.name].append(
                    f"--since HEAD: changed {changed.relative_to(proj.root)} "
                    "(one AddField appended), cache from the warm run kept"
                )

    # ---------------------------------------------------------------- all
    def run(self) -> int:
        a = self.args
        self.ours_ok = False
        if "ours" in a.tools:
            self.ours_ok, why = ours_importable(self.python, a.workdir)
            if not self.ours_ok:
                self.say(
                    f"!! our tool is not importable in {self.python} ({why}); skipping it. "
                    f"Install it with: {self.python} -m pip install -e '{REPO}[postgres]'"
                )
        plan: list[tuple[str, int]] = []
        for kind in a.projects:
            if kind == "synthetic":
                plan += [("synthetic", n) for n in a.migrations]
            else:
                plan.append((kind, 0))
        started = time.perf_counter()
        for kind, n in plan:
            proj = build_project(kind, n, a.workdir, a.seed)
            try:
                self.bench_project(proj)
            except Exception as exc:  # noqa: BLE001 - report and go on with the next project
                self.say(f"!! {proj.name}: {type(exc).__name__}: {exc}")
                self.notes.setdefault(proj.name, []).append(f"aborted: {type(exc).__name__}: {exc}")
            self.print_project(proj.name)
        total = time.perf_counter() - started
        self.say(f"\n(total benchmark time {total / 60:.1f} min)")
        verdicts = self.print_targets()
        if a.json:
            self.write_json(Path(a.json), verdicts, total)
            self.say(f"results written to {a.json}")
        return 0

    # ---------------------------------------------------------------- reporting
    def med(self, proj: str, key: str, attr: str = "wall_s") -> float | None:
        samples = [s for s in self.results.get(proj, {}).get(key, []) if s.ok]
        if not samples or len(samples) < len(self.results[proj][key]):
            return None
        return statistics.median(getattr(s, attr) for s in samples)

    def print_project(self, name: str) -> None:
        rows = self.results.get(name, {})
        md = self.args.markdown
        meta = self.meta.get(name, {})
        self.say(
            f"\n### {name}: {meta.get('linted_migrations', '?')} migrations linted, "
            f"{meta.get('graph_migrations', '?')} in the graph (median of {self.args.repeat})"
        )
        cold = self.med(name, "ours:cold")
        header = ["measurement", "wall s", "peak RSS MB", "exit", "x ours cold", "notes"]
        table = []
        for key in LABELS:
            if key not in rows:
                continue
            samples = rows[key]
            wall, rss = self.med(name, key), self.med(name, key, "maxrss_mb")
            raw_wall = statistics.median(s.wall_s for s in samples)
            raw_rss = statistics.median(s.maxrss_mb for s in samples)
            exits = ",".join(sorted({("timeout" if s.timed_out else str(s.rc)) for s in samples}))
            note = ""
            info = samples[0].info
            if key == "statewalk" and info:
                note = f"{info.get('migrations')} migrations, inner {info.get('inner_s')} s"
            elif key == "render" and info:
                note = f"{info.get('classes')} classes, inner {info.get('inner_s')} s"
            elif key == "collectsql" and info:
                note = f"{info.get('statements')} statements, inner {info.get('inner_s')} s" + (
                    f", {len(info.get('failed', []))} failed" if info.get("failed") else ""
                )
            elif key == "setup" and info:
                note = f"setup {info.get('setup_s')} s in-process"
            if len(samples) > 1 and wall is not None:
                walls = [s.wall_s for s in samples]
                note = (note + "; " if note else "") + f"min {min(walls):.2f} max {max(walls):.2f}"
            ratio = f"{wall / cold:.2f}" if wall is not None and cold else ""
            if wall is None:  # some run failed or timed out: show it, keep it out of every ratio
                note = (note + "; " if note else "") + "NOT OK (failed/timeout): excluded from ratios"
            table.append(
                [
                    LABELS[key],
                    f"{wall:.2f}" if wall is not None else f"({raw_wall:.2f})",
                    f"{rss:.0f}" if rss is not None else f"({raw_rss:.0f})",
                    exits,
                    ratio,
                    note,
                ]
            )
        self.say(render_table(header, table, md))
        self.say("")
        for line in self.ratio_lines(name):
            self.say(("- " if md else "  ") + line)
        for note in self.notes.get(name, []):
            self.say(("- note: " if md else "  note: ") + note)

    def ratio_lines(self, name: str) -> list[str]:
        g = lambda k: self.med(name, k)  # noqa: E731
        out = []
        cold, warm, since, setup = g("ours:cold"), g("ours:warm"), g("ours:since"), g("setup")
        sw, cs, dml, dsm = g("statewalk"), g("collectsql"), g("dml"), g("dsm")
        if cold:
            if sw:
                out.append(f"ours cold / state-walk floor = {cold / sw:.2f}x")
                if g("render"):
                    out.append(
                        f"render floor / state-walk floor = {g('render') / sw:.2f}x (model classes "
                        "alone, before any SQL is generated, parsed or checked)"
                    )
            if cs:
                out.append(f"ours cold / collect_sql floor = {cold / cs:.2f}x")
            for peer, t in (("django-migration-linter", dml), ("django-safe-migrations", dsm)):
                if t:
                    verdict = "ours faster" if t > cold else "ours slower"
                    out.append(f"{peer} / ours cold = {t / cold:.1f}x ({verdict})")
            if warm:
                out.append(f"ours warm / ours cold = {warm / cold:.0%}")
            if g("ours:replay"):
                out.append(
                    f"ours warm (python -m safe_migrations) / ours cold = {g('ours:replay') / cold:.0%}"
                )
        for peer, k in (("django-migration-linter", "dml:warm"), ("django-safe-migrations", "dsm:warm")):
            if g(k) and warm:
                out.append(f"{peer} warm / ours warm = {g(k) / warm:.1f}x")
        if since and setup:
            out.append(f"ours --since - django.setup() = {since - setup:+.2f} s")
        for peer, t in (("django-migration-linter", dml), ("django-safe-migrations", dsm)):
            if t and sw:
                line = f"{peer} / state-walk floor = {t / sw:.2f}x"
                if cs:
                    line += f"; / collect_sql floor = {t / cs:.2f}x"
                out.append(line)
        return out

    def targets(self) -> list[dict]:
        verdicts: list[dict] = []

        def add(project: str, what: str, value: float | None, limit: float, fmt: str, op: str = "<=") -> None:
            if value is None:
                verdicts.append(
                    {"project": project, "target": what, "value": None, "limit": limit, "pass": None}
                )
                return
            ok = value <= limit if op == "<=" else value >= limit
            verdicts.append(
                {
                    "project": project,
                    "target": what,
                    "value": round(value, 3),
                    "limit": limit,
                    "pass": ok,
                    "fmt": fmt,
                }
            )

        synth = {int(p.split("-")[1]): p for p in self.results if p.startswith("synthetic-")}
        for n, name in sorted(synth.items()):
            cold = self.med(name, "ours:cold")
            if n == 1000:
                sw, dml = self.med(name, "statewalk"), self.med(name, "dml")
                add(
                    name,
                    "ours cold <= 1.5x state-walk floor",
                    cold / sw if cold and sw else None,
                    1.5,
                    "{:.2f}x",
                )
                add(
                    name,
                    "django-migration-linter >= 8x ours cold",
                    dml / cold if cold and dml else None,
                    8.0,
                    "{:.1f}x",
                    ">=",
                )
            if 2 * n in synth:
                big = self.med(synth[2 * n], "ours:cold")
                add(
                    f"synthetic-{2 * n} vs {n}",
                    "ours cold(2N) <= 2.2x cold(N)",
                    big / cold if big and cold else None,
                    2.2,
                    "{:.2f}x",
                )
        for name in self.results:
            if name.startswith("synthetic-"):
                continue
            cold, warm, since = (
                self.med(name, "ours:cold"),
                self.med(name, "ours:warm"),
                self.med(name, "ours:since"),
            )
            cs, setup = self.med(name, "collectsql"), self.med(name, "setup")
            add(name, "ours cold <= collect_sql floor", cold / cs if cold and cs else None, 1.0, "{:.2f}x")
            add(name, "ours warm <= 20% of cold", warm / cold if warm and cold else None, 0.2, "{:.0%}")
            replayed = self.med(name, "ours:replay")
            add(
                name,
                "ours warm (python -m) <= 20% of cold",
                replayed / cold if replayed and cold else None,
                0.2,
                "{:.0%}",
            )
            add(
                name,
                "ours --since <= django.setup() + 3 s",
                since - setup if since and setup else None,
                3.0,
                "{:+.2f} s",
            )
        return verdicts

    def print_targets(self) -> list[dict]:
        verdicts = self.targets()
        if not verdicts:
            return verdicts
        self.say("\n### Targets")
        rows = []
        for v in verdicts:
            if v["pass"] is None:
                rows.append([v["project"], v["target"], "n/a", "not measured (skipped or failed)"])
            else:
                rows.append(
                    [v["project"], v["target"], v["fmt"].format(v["value"]), "PASS" if v["pass"] else "FAIL"]
                )
        self.say(render_table(["project", "target", "measured", "verdict"], rows, self.args.markdown))
        return verdicts

    def write_json(self, path: Path, verdicts: list[dict], total: float) -> None:
        data = {
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "settings": {"repeat": self.args.repeat, "seed": self.args.seed},
            "projects": {
                name: {
                    "meta": self.meta.get(name, {}),
                    "notes": self.notes.get(name, []),
                    "median_wall_s": {k: self.med(name, k) for k in rows},
                    "median_maxrss_mb": {k: self.med(name, k, "maxrss_mb") for k in rows},
                    "samples": {k: [asdict(s) for s in v] for k, v in rows.items()},
                }
                for name, rows in self.results.items()
            },
            "targets": verdicts,
            "total_s": total,
        }
        path.write_text(json.dumps(data, indent=2, default=str))


def render_table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:{'<' if i in (0, len(header) - 1) else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join("  " + line.rstrip() for line in lines)


# --------------------------------------------------------------------------- setup


def setup_venv(venv: Path, base_python: str) -> int:
    if not (venv / "bin" / "python").exists():
        print(f"creating {venv} with {base_python}")
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "-U", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", "-r", str(HERE / "requirements.txt")], check=True)
    if (REPO / "pyproject.toml").exists() and (REPO / "safe_migrations").is_dir():
        r = subprocess.run([py, "-m", "pip", "install", "-e", f"{REPO}[postgres]"])
        if r.returncode != 0:
            print("!! installing our tool failed; the benchmark will skip it until it installs")
    print(f"ready: {py}")
    return 0


# --------------------------------------------------------------------------- cli


def csv(choices: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {','.join(choices)}")
        return items

    return parse


def ints(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated integers, e.g. 1000,2000") from None
    if any(v < 10 for v in values):
        raise argparse.ArgumentTypeError("at least 10 migrations (one per app)")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=(
            "Time and peak memory of safe_migrations' `manage.py lintmigrations` next to "
            "django-migration-linter, django-safe-migrations and two Django floors (state walk; "
            "one-pass collect_sql), on generated histories and on wagtail's and django-oscar's."
        ),
        epilog="First time: python benchmarks/run.py --setup.  Details: benchmarks/README.md.",
    )
    p.add_argument(
        "--setup",
        action="store_true",
        help="create/update the venv from benchmarks/requirements.txt "
        "(+ our tool, editable, if the repo has it) and exit",
    )
    p.add_argument(
        "--base-python",
        default=str(DEFAULT_BASE_PYTHON) if DEFAULT_BASE_PYTHON.exists() else sys.executable,
        help="interpreter for --setup (default: pyenv 3.12.1 if present)",
    )
    p.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_VENV,
        help="benchmark virtualenv (default: benchmarks/.venv); --setup creates it",
    )
    p.add_argument(
        "--python",
        default=None,
        help="interpreter that runs every measured process (default: the venv's bin/python)",
    )
    p.add_argument(
        "--projects",
        type=csv(PROJECT_KINDS),
        default=list(PROJECT_KINDS),
        help="comma-separated subset of: synthetic,wagtail,oscar (default: all)",
    )
    p.add_argument(
        "--migrations",
        type=ints,
        default=[1000, 2000],
        help="sizes of the synthetic projects, comma-separated (default: 1000,2000)",
    )
    p.add_argument(
        "--tools",
        type=csv(TOOLS),
        default=list(TOOLS),
        help="comma-separated subset of: ours,dml,dsm,floors (default: all). dml = "
        "django-migration-linter, dsm = django-safe-migrations, floors = state walk + collect_sql",
    )
    p.add_argument(
        "--ours-modes",
        type=csv(OURS_MODES),
        default=list(OURS_MODES),
        help="our tool's runs: cold,warm,replay,since (default: all)",
    )
    p.add_argument("--repeat", type=int, default=1, help="repetitions of every measurement; median reported")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a measured process is killed")
    p.add_argument(
        "--dml-max-migrations",
        type=int,
        default=1200,
        help="skip django-migration-linter on projects with more migrations to lint than this "
        "(it is quadratic: ~10 min at 1000, ~40 at 2000; default %(default)s)",
    )
    p.add_argument(
        "--peer-warm",
        action="store_true",
        help="also time each peer re-run with its own result cache (django-migration-linter --cache-path, "
        "django-safe-migrations --cache-file); their first run then fills that cache",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic generator")
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where projects, caches and logs go (default: a new temp dir, removed unless --keep)",
    )
    p.add_argument("--keep", action="store_true", help="keep the work dir and the scratch databases")
    p.add_argument("--json", metavar="FILE", help="also write all samples and verdicts as JSON")
    p.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    p.add_argument("--ours-args", type=shlex.split, default=[], help="extra arguments for our lintmigrations")
    p.add_argument(
        "--dml-args", type=shlex.split, default=[], help="extra arguments for django-migration-linter"
    )
    p.add_argument("--dsm-args", type=shlex.split, default=[], help="extra arguments for check_migrations")
    p.add_argument("--pg-host", default=os.environ.get("PGHOST", "127.0.0.1"))
    p.add_argument("--pg-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    p.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    p.add_argument("--pg-password", default=os.environ.get("PGPASSWORD", ""))
    args = p.parse_args(argv)
    if args.python is None:
        args.python = str(args.venv / "bin" / "python")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup:
        return setup_venv(args.venv, args.base_python)
    if not Path(args.python).exists():
        print(
            f"no interpreter at {args.python}: run `python benchmarks/run.py --setup` first "
            "(or pass --python)",
            file=sys.stderr,
        )
        return 2
    own_tmp = args.workdir is None
    args.workdir = Path(tempfile.mkdtemp(prefix="migbench-")) if own_tmp else args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"work dir: {args.workdir}  python: {args.python}  repeat: {args.repeat}")
    try:
        return Runner(args).run()
    finally:
        if own_tmp and not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
