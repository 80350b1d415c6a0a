"""``python -m experiments <entry point> [--flags]`` (or ``dtc <entry point>``): what each MLproject entry point runs.

Bad input ends in one line on stderr and exit code 2. An unreachable tracking server or
Optuna storage is found before any MLflow run starts; later errors, Ctrl-C and SIGTERM
end the run FAILED rather than leave it RUNNING.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

ENTRY_POINTS = ("main", "baselines", "tune", "evaluate", "predict")


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (``--help`` still gives the whole usage)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str = "python -m experiments") -> argparse.ArgumentParser:
    from experiments.config import add_arguments

    parser = _OneLineParser(prog=prog, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="entry", required=True)
    for name in ENTRY_POINTS[:-1]:
        add_arguments(sub.add_parser(name, help=f"the `{name}` entry point"))
    p = sub.add_parser("predict", help="cluster the texts of a file with a registered model")
    p.add_argument("--model_uri", required=True, help="e.g. models:/deep-text-clustering@champion")
    p.add_argument("--input", required=True, help="a .csv/.tsv/.parquet/.jsonl file with a text column")
    p.add_argument("--output", required=True, help="where to write the clusters (.csv; a parquet folder on Spark)")
    p.add_argument("--text_columns", default="", help="text column(s); default: text, else title+description")
    p.add_argument("--engine", default="local", choices=("local", "spark"),
                   help="local: one process; spark: mlflow.pyfunc.spark_udf over a Spark DataFrame")
    p.add_argument("--spark_master", default="", help="engine=spark: the master URL; default $SPARK_MASTER, else local[*]")
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so every open run is ended on the way out."""


def _terminate(signum, frame):
    raise Terminated()


def preflight(config, entry: str) -> None:
    """Check what is outside this process before a run exists: the tracking store, the storage."""
    from experiments.preflight import check_tracking_server

    check_tracking_server()
    if entry in ("tune", "main"):
        import optuna

        from experiments.study import check_storage

        check_storage(config.storage)
        # Each trial is echoed with its state and error; Optuna's own lines would repeat them.
        optuna.logging.set_verbosity(optuna.logging.ERROR)


def main(argv=None, *, prog: str = "python -m experiments") -> int:
    args = build_parser(prog).parse_args(argv)
    from experiments.quiet import quiet_known_warnings

    quiet_known_warnings()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        from experiments.threads import limit_blas

        limit_blas()
        if args.entry == "predict":
            from experiments.predict import predict_file

            if args.model_uri.startswith(("models:/", "runs:/")):  # read through the tracking store
                from experiments.preflight import check_tracking_server

                check_tracking_server()

            if args.engine == "spark":
                from experiments.spark import predict_spark

                predict_spark(args.model_uri, args.input, args.output, text_columns=args.text_columns,
                              master=args.spark_master or None)
            else:
                predict_file(args.model_uri, args.input, args.output, text_columns=args.text_columns)
            return 0
        from experiments.config import from_args

        config = from_args(args)
        preflight(config, args.entry)
        from experiments import entry_points

        getattr(entry_points, f"run_{args.entry}")(config)
        return 0
    except KeyboardInterrupt as exc:
        print(f"error: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:  # one line for the user; the traceback only on request
        if os.environ.get("DTC_DEBUG"):
            raise
        from experiments.preflight import first_line

        print(f"error: {first_line(exc)}", file=sys.stderr)
        return 2


def cli() -> None:
    """The ``dtc`` console script (``[project.scripts]``): ``main`` under the script's own name."""
    sys.exit(main(prog="dtc"))


if __name__ == "__main__":
    sys.exit(main())
