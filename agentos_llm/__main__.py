"""`python -m agentos_llm`: the `agentos-llm` command."""

import sys

from .cli import main

sys.exit(main())
