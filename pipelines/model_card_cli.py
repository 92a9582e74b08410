"""``kfp-mlops model-card``: the model card of any registered version, on demand.

    kfp-mlops model-card --registry-uri URI --model-name M [--version V]
                         [--format html|md] [--output PATH]

The card is made from what the version holds (``components/push/model_card.py``), so it
works for versions pushed before push wrote cards. Without ``--output`` it is printed;
with it, written to PATH (local, ``gs://`` or ``s3://``). Nothing in the registry changes.
"""
import logging
import sys

logger = logging.getLogger("kfp-mlops")


def add_parser(subparsers) -> None:
    """Adds ``model-card`` to the ``kfp-mlops`` sub-commands (``func``: its handler)."""
    card = subparsers.add_parser(
        "model-card", help="make the model card of a registered version (HTML or Markdown)",
        description="Makes the model card of one registered version from what the registry "
                    "holds (evaluation, lineage, schema, statistics, model metadata), for "
                    "any version, also one pushed before push wrote cards.")
    card.add_argument("--registry-uri", required=True,
                      help="the registry: a folder (local, gs://, s3://) or "
                           "vertex://projects/P/locations/R")
    card.add_argument("--model-name", required=True, help="the registered model's name")
    card.add_argument("--version", default="champion",
                      help="a version number, an alias or 'latest' (default: %(default)s)")
    card.add_argument("--format", choices=("html", "md"), default="html",
                      help="html or md (Markdown) (default: %(default)s)")
    card.add_argument("--output", default=None, metavar="PATH",
                      help="write the card to PATH (local, gs://, s3://); default: print it")
    card.set_defaults(func=_cmd_model_card)


def _cmd_model_card(args) -> int:
    from kfp_mlops.components._shared import io
    from kfp_mlops.components._shared import registry as reg
    from kfp_mlops.components.push import model_card

    reg.check_model_name(args.model_name)
    ref = reg.check_version_ref(args.version)
    version = reg.open_registry(args.registry_uri).resolve(args.model_name, ref)
    text = model_card.render(model_card.make(version, args.registry_uri), args.format)
    if args.output:
        io.write_text(args.output, text)
        logger.info("wrote the model card of %s version %s to %s", args.model_name,
                    version.version, args.output)
        print(args.output)
    else:
        sys.stdout.write(text)
    return 0
