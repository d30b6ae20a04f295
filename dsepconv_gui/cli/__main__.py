"""`python -m dsepconv_gui.cli`: the same as the `dsepconv` command."""

from dsepconv_gui.cli.main import main

raise SystemExit(main())
