"""`python -m driftline` is the same as the `driftline` command."""

from driftline.cli.main import main

raise SystemExit(main())
