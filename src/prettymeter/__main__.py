"""`python -m prettymeter` is the same as `pretty-meter`."""

from prettymeter.cli import main

main()
