"""`python -m interop_services.payment --help`"""

from interop_services import lifecycle
from interop_services.payment.server import PROG, parse_config, serve


def main() -> None:
    lifecycle.run(PROG, serve(parse_config()))


if __name__ == "__main__":
    main()
