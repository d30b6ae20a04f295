"""The `dsepconv` command line, the benchmark evaluation and the speed benchmark."""
