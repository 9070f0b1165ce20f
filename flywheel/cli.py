"""The `flywheel` command line: thin click commands over library functions (layer L4)."""

from __future__ import annotations

import json
import logging
import sys

import click

DEFAULT_DATA = "data"


def data_option(fn):
    """`--data DIR`, shared by every command that reads or writes a dataset."""
    return click.option("--data", "data", type=click.Path(file_okay=False), default=DEFAULT_DATA,
                        show_default=True, envvar="FLYWHEEL_DATA", help="Dataset folder.")(fn)


class Interrupted(click.ClickException):
    """Ctrl-C (SIGINT): one line and exit 130, the shell's code for a process ended by SIGINT."""

    exit_code = 130


def _describe(exc: BaseException) -> str:
    """One line for an error no command handled: what failed and where, never a traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        in_the_way = isinstance(exc, (FileExistsError, NotADirectoryError))
        why = " (a file stands where a folder is needed)" if in_the_way else ""
        return f"{exc.strerror}{where}{why}"
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text[:400]} (run with -v for the traceback)"


class ErrorBoundary(click.Group):
    """Every command runs inside this group: an exception no command turned into a message becomes one
    `Error: ...` line on stderr and exit 1 (the traceback only with -v); Ctrl-C becomes exit 130."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except KeyboardInterrupt:
            hint = "; what was committed is kept: continue with --resume" if ctx.invoked_subcommand == "evolve" else ""
            raise Interrupted(f"interrupted{hint}") from None
        except Exception as exc:
            if ctx.params.get("verbose"):
                raise
            raise click.ClickException(_describe(exc)) from None


@click.group(cls=ErrorBoundary)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr (and let Ray's own progress "
              "bars and logs through).")
def main(verbose: bool) -> None:
    """flywheel: synthesise interactive visual-reasoning data and train on it."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@main.group()
def sandbox() -> None:
    """Run Python in the isolated sandbox."""


@sandbox.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "inputs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="File placed in every job's folder under its base name (repeatable).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Wall-time limit per file (s).")
@click.option("--memory-mb", type=int, default=1024, show_default=True, help="Memory limit per file (MB).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="sandbox-out", show_default=True,
              help="Folder the PNGs are copied into (may already exist).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file per line on stdout, nothing else.")
@click.option("--isolation", type=click.Choice(["auto", "degraded"]), default="auto", show_default=True,
              help="auto: isolated (root, or user namespaces) or refuse; degraded: run without namespaces where "
                   "the kernel allows none (jobs can then read your files; docs/sandbox.md).")
def sandbox_run(files: tuple[str, ...], inputs: tuple[str, ...], timeout: float, memory_mb: int,
                out_dir: str, as_json: bool, isolation: str) -> None:
    """Run each FILE.py through one sandbox pool, in order."""
    from flywheel.sandbox.files import run_files
    from flywheel.sandbox.types import SandboxLimits

    limits = SandboxLimits(wall_s=timeout, memory_mb=memory_mb)
    for record in run_files(files, inputs, limits, out_dir, isolation=isolation):
        if as_json:
            click.echo(json.dumps(record))
            continue
        err = record["error"]
        head = f"{record['file']}: {record['status']} in {record['wall_s']:.2f}s"
        click.echo(head + (f" ({err['type']}: {err['message']}, line {err['line']})" if err else ""))
        for stream in ("stdout", "stderr"):
            if record[stream]:
                click.echo(f"  {stream}:\n" + "\n".join("    " + ln for ln in record[stream].splitlines()))
        for path in record["images"]:
            click.echo(f"  image: {path}")


# -- dataset commands (query, show, fsck) ------------------------------------------------------------------
# Broken data is reported as one line naming the file (CorruptShardError), never a traceback: these are the
# commands a person runs to find out what is wrong with a dataset.


def _require_data(data: str) -> None:
    from pathlib import Path

    if not Path(data).is_dir():
        raise click.ClickException(f"no data dir at {data} (run `flywheel evolve --data {data}` first, "
                                   "or point --data / FLYWHEEL_DATA at one)")
    from storage.manifest import foreign_entries

    if strangers := foreign_entries(data):
        shown = ", ".join(strangers[:5]) + (", ..." if len(strangers) > 5 else "")
        raise click.ClickException(f"{data} is not a flywheel data folder (no _manifests/; it holds {shown})")


@main.command()
@click.argument("sql")
@data_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table: for people (long cells cut); json: one array of row objects; csv: with a header.")
@click.option("--verify", is_flag=True, help="Check every committed file's sha256 first (reads all the data).")
def query(sql: str, data: str, fmt: str, verify: bool) -> None:
    """Run SQL over the committed shards: views problems, rejections, rounds, concepts."""
    import duckdb

    from storage.catalog import query as run_query
    from storage.manifest import CorruptShardError
    from storage.readers import committed_rounds

    _require_data(data)
    try:
        if not committed_rounds(data):
            click.echo(f"note: nothing committed in {data} yet; the views are empty", err=True)
        out = run_query(data, sql, fmt, verify=verify)
    except CorruptShardError as err:
        raise click.ClickException(str(err)) from None
    except duckdb.Error as err:
        first = " ".join(str(err).strip().split("\n\n")[0].split())  # one line: drop DuckDB's caret block
        raise click.ClickException(f"query failed: {first}") from None
    if fmt == "json" and not out:  # a statement with no result set: still exactly one JSON array
        out = "[]"
    click.echo(out, nl=not out.endswith("\n"))


@main.command()
@click.argument("problem_id")
@data_option
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="PNG to write [default: <id>.png in the current folder].")
def show(problem_id: str, data: str, out: str | None) -> None:
    """Draw one problem (id or unique id prefix) as a PNG sheet: images, question, answer, solution, verdicts."""
    from flywheel.show import ShowError
    from flywheel.show import show as make_show
    from storage.manifest import CorruptShardError

    _require_data(data)
    try:
        path = make_show(data, problem_id, out)
    except (ShowError, CorruptShardError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {path}")


@main.command()
@data_option
def fsck(data: str) -> None:
    """Check every committed file (exists, size, sha256, schema, rows, page checksums); exit 1 if any is bad."""
    from storage.fsck import fsck as run_fsck

    _require_data(data)
    report = run_fsck(data)
    click.echo(f"fsck {data}")
    click.echo(report.describe())
    if report.files_checked == 0 and report.ok:
        click.echo("nothing committed yet")
    if not report.ok:
        bad = len({i.path for i in report.issues})
        click.echo(f"fsck: {len(report.issues)} issue(s) in {bad} committed file(s); restore them from a copy "
                   "(until then queries over them fail or read damaged values)", err=True)
        sys.exit(1)


@main.command()
@data_option
@click.option("--out", "out", type=click.Path(file_okay=False), default="report", show_default=True,
              help="Folder for index.html, plots/ and gallery/ (created; files already there are overwritten).")
def report(data: str, out: str) -> None:
    """Write an HTML report across rounds: plots (acceptance, rejections, coverage, knowledge, difficulty,
    duplicates, cost) and a gallery of sample problems per difficulty level."""
    from flywheel.report import build_report
    from storage.manifest import CorruptShardError

    _require_data(data)
    try:
        result = build_report(data, out)
    except CorruptShardError as err:
        raise click.ClickException(str(err)) from None
    click.echo(str(result.index))
    click.echo(result.describe())


# -- models (tiny-model) ---------------------------------------------------------------------------------
@main.command("tiny-model")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option("--size", type=click.Choice(["tiny", "small"]), default="tiny", show_default=True,
              help="tiny: about 0.9M parameters (tests); small: a few million (trainer experiments).")
def tiny_model(out: str, seed: int, size: str) -> None:
    """Write a random-weight Qwen2.5-VL to OUT (weights, tokenizer, chat template, image processor), offline."""
    import time
    from pathlib import Path

    from flywheel.models.tiny import build_tiny_model

    start = time.perf_counter()
    path = build_tiny_model(Path(out), seed=seed, size=size)
    click.echo(f"wrote {size} Qwen2.5-VL (seed {seed}) to {path} in {time.perf_counter() - start:.1f}s:")
    for f in sorted(path.iterdir()):
        click.echo(f"  {f.name:<26} {f.stat().st_size:>10,} bytes")
    click.echo(f"load it with: HFBackend({str(path)!r}) (flywheel.models.hf)")


# -- evolve -----------------------------------------------------------------------------------------------
@main.command()
@click.option("--rounds", type=int, default=None, help="Rounds to run [default: 5, or the config's].")
@data_option
@click.option("--seed", type=int, default=None, help="Seed of the whole run [default: 0].")
@click.option("--resume", is_flag=True, help="Continue a killed run: skip complete rounds and committed work.")
@click.option("--address", default=None, help="Ray cluster to join (else RAY_ADDRESS, else a local instance).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file overriding any config field (see docs/config.md).")
@click.option("--problems-per-round", type=int, default=None, help="Proposals per round [default: 240].")
@click.option("--backend", type=click.Choice(["hf", "openai", "vllm"]), default=None,
              help="Propose with a model instead of the procedural families.")
@click.option("--model", default=None, help="Proposer model: a local dir / hub name (hf, vllm) or a served name.")
@click.option("--base-url", default=None, help="OpenAI-compatible endpoint for --backend openai.")
@click.option("--no-cache", is_flag=True, help="Do not store or replay model calls (the request cache, "
              "<data>/cache/requests.sqlite by default).")
def evolve(rounds: int | None, data: str, seed: int | None, resume: bool, address: str | None,
           config_file: str | None, problems_per_round: int | None, backend: str | None, model: str | None,
           base_url: str | None, no_cache: bool) -> None:
    """Run the data flywheel: propose, render, verify and commit problems, round after round."""
    from rich.console import Console

    from flywheel.config import ConfigError, load_config
    from flywheel.loop import EvolveError
    from flywheel.loop import evolve as run_evolve
    from flywheel.summary import print_round, totals_table

    if backend and not model:
        raise click.UsageError("--backend needs --model")
    try:
        cfg = load_config(config_file, evolve__rounds=rounds, evolve__seed=seed, ray__address=address,
                          evolve__problems_per_round=problems_per_round, models__proposer__backend=backend,
                          models__proposer__model=model, models__proposer__base_url=base_url,
                          cache__enabled=False if no_cache else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    console = Console()
    done: list[tuple[int, dict]] = []

    def on_round(round_no: int, summary: dict) -> None:
        done.append((round_no, summary))
        print_round(console, round_no, summary)

    try:
        run_evolve(cfg, data, resume=resume, on_round=on_round,
                   verbose=bool(click.get_current_context().find_root().params.get("verbose")))
    except EvolveError as exc:
        raise click.ClickException(str(exc)) from None
    if done:
        console.print(totals_table(done))
    sql = "SELECT family, count(*) FROM problems GROUP BY 1"
    console.print(f'data in {data}; try: flywheel query "{sql}" --data {data}', soft_wrap=True)


# -- train ------------------------------------------------------------------------------------------------
@main.command()
@click.option("--stage", type=click.Choice(["perception", "sft", "rl"]), required=True,
              help="Curriculum stage: perception alignment, cold-start SFT or GRPO.")
@data_option
@click.option("--model", required=True, help="Policy to start from: a local folder (e.g. the previous stage's "
              "OUT/model, or `flywheel tiny-model`) or a hub name already in the local cache.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Output folder: metrics.jsonl/png, checkpoints/, and the final model/ (resumes if present).")
@click.option("--steps", type=int, default=None, help="Optimizer steps [default: the config's, 100].")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML: a [train] table, or a curriculum (jobs/curriculum.toml) whose stage entry is used.")
@click.option("--workers", type=int, default=1, show_default=True, help="Ray Train workers (GPUs if the "
              "config's device is cuda).")
@click.option("--no-ray", is_flag=True, help="Train in this process without Ray (one CPU or GPU).")
def train(stage: str, data: str, model: str, out: str, steps: int | None, config_file: str | None,
          workers: int, no_ray: bool) -> None:
    """Train a policy on the flywheel's shards: one stage of the visual progressive curriculum."""
    from flywheel.train.config import load_train_config

    _require_data(data)
    try:
        cfg = load_train_config(config_file, stage=stage, steps=steps)
    except ValueError as exc:  # a TOMLDecodeError names line and column but not the file
        toml = type(exc).__name__ == "TOMLDecodeError"
        raise click.ClickException(f"config {config_file}: not valid TOML: {exc}" if toml else str(exc)) from None
    if no_ray or workers < 1:
        from flywheel.train.loop import train_local

        metrics = train_local(cfg, data, model, out)
    else:
        from flywheel.train.ray_trainer import train_ray

        metrics = train_ray(cfg, data, model, out, workers=workers, use_gpu=cfg.device.startswith("cuda"))
    shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float) and k != "time")
    click.echo(f"{stage}: {cfg.steps} steps done; last: {shown}")
    click.echo(f"model in {out}/model; curves in {out}/metrics.png")


# -- models (check) ---------------------------------------------------------------------------------------
@main.group()
def models() -> None:
    """Model backends and pools."""


@models.command("check")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="TOML file with [models.<role>] sections.")
@click.option("--address", default=None, help="Ray cluster to join (else RAY_ADDRESS, else a local instance).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per role per line.")
def models_check(config_file: str, address: str | None, as_json: bool) -> None:
    """Load each role's model in its pool and time one request (latency, tokens/s)."""
    from rich.console import Console
    from rich.table import Table

    from flywheel.config import ConfigError, load_config
    from flywheel.loop import init_ray
    from flywheel.models.check import check_models

    try:
        cfg = load_config(config_file, ray__address=address)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    init_ray(cfg)
    try:
        rows = check_models(cfg)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    else:
        cols = ("role", "backend", "model", "load_s", "latency_s", "completion_tokens", "tokens_per_s", "error")
        table = Table(*cols, title="models check", title_justify="left")
        for row in rows:
            table.add_row(*("" if row[c] is None else str(row[c]) for c in cols))
        Console().print(table)
    if any(row["error"] for row in rows):
        sys.exit(1)



# -- cache (stats, prune) -----------------------------------------------------------------------------------
@main.group()
def cache() -> None:
    """The request cache of model calls (resume and cost)."""


def cache_path_option(fn):
    return click.option("--path", "path", type=click.Path(dir_okay=False), default="",
                        help="Cache file [default: DIR/cache/requests.sqlite].")(fn)


@cache.command("stats")
@data_option
@cache_path_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def cache_stats(data: str, path: str, as_json: bool) -> None:
    """Entries, bytes, hits and age of the request cache, per model."""
    from flywheel.models.cache import CacheError, read_stats

    try:
        stats = read_stats(data, path)
    except CacheError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(stats))
        return
    if not stats["exists"]:
        click.echo(f"no request cache at {stats['path']} (0 entries)")
        return
    click.echo(f"{stats['path']}: {stats['entries']} entries, {stats['bytes']:,} bytes, {stats['hits']} hits, "
               f"oldest {stats['oldest'] or '-'}, newest {stats['newest'] or '-'}")
    for m in stats["models"]:
        click.echo(f"  {m['backend']}:{m['model']}  {m['entries']} entries, {m['hits']} hits, "
                   f"{m['value_bytes']:,} bytes, {m['oldest']} .. {m['newest']}")


@cache.command("prune")
@data_option
@cache_path_option
@click.option("--older-than", "older_than", type=click.FloatRange(min=0), default=None,
              help="Remove entries stored more than DAYS ago.")
@click.option("--model", default=None, help="Remove entries of this configured model (with --older-than: both).")
@click.option("--all", "everything", is_flag=True, help="Remove every entry.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def cache_prune(data: str, path: str, older_than: float | None, model: str | None, everything: bool,
                as_json: bool) -> None:
    """Remove cache entries by age and/or model (or all), then VACUUM the file."""
    from flywheel.models.cache import CacheError, prune_cache

    if not everything and older_than is None and model is None:
        raise click.UsageError("say what to prune: --older-than DAYS, --model NAME or --all")
    try:
        result = prune_cache(data, path, older_than_days=older_than, model=model, everything=everything)
    except CacheError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
    elif not result["exists"]:
        click.echo(f"no request cache at {result['path']}; nothing to prune")
    else:
        click.echo(f"removed {result['removed']} entries; {result['entries']} left, {result['bytes']:,} bytes")


if __name__ == "__main__":
    main()
