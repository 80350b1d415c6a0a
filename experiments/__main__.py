"""``python -m experiments <entry point> [--flags]``: what each MLproject entry point runs.

Bad input ends in one line on stderr and exit code 2; the MLflow run, if one was
started, is marked FAILED rather than left RUNNING.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

ENTRY_POINTS = ("main", "baselines", "tune", "evaluate", "predict")


def build_parser() -> argparse.ArgumentParser:
    from experiments.config import add_arguments

    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="entry", required=True)
    for name in ENTRY_POINTS[:-1]:
        add_arguments(sub.add_parser(name, help=f"the `{name}` entry point"))
    p = sub.add_parser("predict", help="cluster the texts of a file with a registered model")
    p.add_argument("--model_uri", required=True, help="e.g. models:/deep-text-clustering@champion")
    p.add_argument("--input", required=True, help="a .csv/.tsv/.parquet/.jsonl file with a text column")
    p.add_argument("--output", required=True, help="where to write the clusters (.csv)")
    p.add_argument("--text_columns", default="", help="text column(s); default: text, else title+description")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "optuna", "alembic", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.entry == "predict":
            from experiments.predict import predict_file

            predict_file(args.model_uri, args.input, args.output, text_columns=args.text_columns)
            return 0
        from experiments.config import from_args
        from experiments import entry_points

        config = from_args(args)
        getattr(entry_points, f"run_{args.entry}")(config)
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user; the traceback only on request
        if os.environ.get("DTC_DEBUG"):
            raise
        from experiments.tracking import redact

        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {redact(message or type(exc).__name__)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
