"""`python -m interop_services.order --help`"""

from interop_services import lifecycle
from interop_services.order.server import PROG, parse_config, serve


def main() -> None:
    lifecycle.run(PROG, serve(parse_config()))


if __name__ == "__main__":
    main()
