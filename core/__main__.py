"""`python -m core …`: exit 0 on success, 1 on a partial result, 2 on a usage or configuration error."""
import sys

from core.cli import build_parser
from core.config import ConfigError
from core.store import DatabaseBusy

USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, DatabaseBusy) as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
