"""`csbot`: the command line. Each subcommand is one small function in the table below."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from core.errors import ConfigError, TransientStoreError
from infra.logging import configure_logging
from infra.settings import Settings, load_settings

Command = Callable[[argparse.Namespace, Settings], int]


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bots.chat import chat

    return chat(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bots.serve import serve

    asyncio.run(serve(settings, host=args.host, port=args.port))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from bots.worker import run_worker

    run_worker(settings, concurrency=args.concurrency, loglevel=args.loglevel)
    return 0


def cmd_worker_probe(args: argparse.Namespace, settings: Settings) -> int:
    from bots.worker_health import check

    problem = check(stale_after=args.stale_after)
    print(problem or "worker alive")
    return 1 if problem else 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from infra.db.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at {_safe_url(settings.database_url)} is at revision {args.revision}")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bots.doctor import doctor

    return asyncio.run(doctor(settings, sys.stdout))


def cmd_eval_answers(args: argparse.Namespace, settings: Settings) -> int:
    from bots.answer_eval import evaluate_answers, print_report
    from core.botdef import load_bot

    result = evaluate_answers(load_bot(settings.csbot_bot), args.cases, lambda line: print(line, file=sys.stderr, flush=True),
                              database_url=settings.database_url)
    print_report(result)
    return 0


def cmd_knowledge_vectors(args: argparse.Namespace, settings: Settings) -> int:
    from bots.knowledge_vectors import write_knowledge_vectors
    from core.botdef import load_bot

    return write_knowledge_vectors(load_bot(settings.csbot_bot), sys.stderr)


def cmd_telegram_set_webhook(args: argparse.Namespace, settings: Settings) -> int:
    from bots.telegram_setup import set_webhook

    return asyncio.run(set_webhook(settings, sys.stdout))


def cmd_eval_intents(args: argparse.Namespace, settings: Settings) -> int:
    from core.nlu.evaluation import evaluate, format_report

    from core.embedding_cache import default_cache_dir
    from core.nlu.example_vectors import example_vectors
    from core.nlu.features import FeatureConfig
    from core.nlu.intents import IntentModelConfig

    config = None
    if args.encoder:
        # Encoding is the slow part: the rows are cached per file pair, so a second run is quick.
        cache = default_cache_dir() / f"eval.{Path(args.train).stem}-{Path(args.test).stem}"
        config = IntentModelConfig(
            features=FeatureConfig(encoder=args.encoder),
            example_vectors=lambda texts, report: example_vectors(args.encoder, texts, cache=cache, progress=report),
        )
    result = evaluate(args.train, args.test, config=config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(format_report(result))
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from bots.training import train

    return _database_errors_as_a_line(
        settings, lambda: train(settings, sys.stdout, sys.stderr, seed=args.seed, fraction=args.held_out)
    )


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    from bots.training import retrain_command

    return _with_database(settings, lambda: retrain_command(settings, sys.stdout, sys.stderr))


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bots.export import export

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return _with_database(
        settings, lambda: asyncio.run(export(settings, args.format, sys.stdout, progress, out=args.out, days=args.days))
    )


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from bots.forget import forget

    return _with_database(settings, lambda: asyncio.run(forget(settings, args.channel, args.customer, sys.stdout)))


def _with_database(settings: Settings, run: Callable[[], int]) -> int:
    """Run a command that reads the database; a database failure is one clear line, exit 1."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        # Connecting would create an empty file and then fail on the missing tables.
        print(f"csbot: database file {url.database} does not exist (set DATABASE_URL, or run the bot first)", file=sys.stderr)
        return 1
    return _database_errors_as_a_line(settings, run)


def _database_errors_as_a_line(settings: Settings, run: Callable[[], int]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return run()
    except (SQLAlchemyError, TransientStoreError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        print(
            f"csbot: cannot read the database at {_safe_url(settings.database_url)}: {reason} "
            "(is it running, and migrated with `csbot db upgrade`?)",
            file=sys.stderr,
        )
        return 1


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return number


def _fraction(value: str) -> float:
    number = float(value)
    if not 0.0 < number < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return number


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="csbot", description="Multi-channel customer service bot.")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("chat", help="talk to the bot in the terminal (or line by line from a pipe)").set_defaults(run=cmd_chat)
    serve = sub.add_parser("serve", help="run the web app (webhooks, /healthz, /readyz, /metrics)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=cmd_serve)
    worker = sub.add_parser("worker", help="run a Celery worker for the inbound and outbound queues (needs REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(run=cmd_worker)
    probe = sub.add_parser("worker-probe", help="exit 0 if this pod's worker consumer is alive (Kubernetes exec probe)")
    probe.add_argument("--stale-after", type=float, default=60.0, help="seconds without a heartbeat that mean stuck")
    probe.set_defaults(run=cmd_worker_probe)
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(run=cmd_db_upgrade)
    sub.add_parser("doctor", help="show what is configured and what is reachable").set_defaults(run=cmd_doctor)
    telegram = sub.add_parser("telegram", help="Telegram set-up").add_subparsers(dest="tg_command", required=True, metavar="ACTION")
    telegram.add_parser("set-webhook", help="register PUBLIC_BASE_URL/webhooks/telegram with the secret").set_defaults(
        run=cmd_telegram_set_webhook
    )
    evaluate = sub.add_parser("eval", help="measure the understanding models").add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    intents = evaluate.add_parser("intents", help="train on one file, score on another; last line is JSON")
    intents.add_argument("--train", required=True, help="CSV (text,category) or CLINC150-style JSON")
    intents.add_argument("--test", required=True, help="same formats; label `oos` = out of scope")
    intents.add_argument("--encoder", choices=("e5-small",), default=None,
                         help="add the sentence encoder's embedding to the features (as `intent_encoder:` in bot.yaml)")
    intents.set_defaults(run=cmd_eval_intents)
    answers = evaluate.add_parser("answers", help="run conversation cases through the bot; last line is JSON")
    answers.add_argument("--cases", required=True, type=Path, help="YAML file of cases (see README: answer quality)")
    answers.set_defaults(run=cmd_eval_answers)
    knowledge = sub.add_parser("knowledge", help="the bot's knowledge files").add_subparsers(
        dest="kb_command", required=True, metavar="ACTION"
    )
    knowledge.add_parser(
        "vectors", help="rewrite the vectors shipped next to bot.yaml (run after editing knowledge)"
    ).set_defaults(run=cmd_knowledge_vectors)
    train = sub.add_parser("train", help="train the bot's intent model from its intents folder and install it")
    train.add_argument("--seed", type=int, default=0, help="seed of the held-out split (kept in the model card)")
    train.add_argument("--held-out", type=_fraction, default=0.1, help="share of each intent held out for scoring (default 0.1)")
    train.set_defaults(run=cmd_train)
    sub.add_parser(
        "retrain", help="retrain with the database's intent corrections; install only if no worse on held-out data"
    ).set_defaults(run=cmd_retrain)
    export = sub.add_parser("export", help="conversations as fine-tuning (chat JSONL) or labelling (CSV) data, redacted")
    export.add_argument("--format", required=True, choices=("chat-jsonl", "intents-csv"))
    export.add_argument("--out", type=Path, default=None, help="write here instead of stdout")
    export.add_argument("--days", type=_positive_int, default=None, help="only conversations/messages of the last N days")
    export.set_defaults(run=cmd_export)
    forget = sub.add_parser("forget", help="erase everything stored of one customer (and note it in the desk threads)")
    forget.add_argument("--channel", required=True, help="telegram, slack or sms")
    forget.add_argument("--customer", required=True, help="the customer's id on that channel: chat id, Slack user id or phone number")
    forget.set_defaults(run=cmd_forget)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, quiet=args.command in ("chat", "eval", "knowledge", "train", "retrain", "export"))
        return args.run(args, settings)
    except ConfigError as exc:
        print(f"csbot: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Imported here: core.nlu pulls in scikit-learn, too slow for every command's start-up.
        from core.nlu.errors import NluError

        if not isinstance(exc, NluError):
            raise
        print(f"csbot: {exc}", file=sys.stderr)  # a bad data or model file, named in the message
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
