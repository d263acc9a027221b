"""python -m batchgen_client: the batchgen command."""

import sys

from .cli import main

sys.exit(main())
