"""`python -m interop_services.call < calls.jsonl`"""

from interop_services.call.client import main

if __name__ == "__main__":
    main()
