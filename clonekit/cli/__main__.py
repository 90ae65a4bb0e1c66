"""`python -m clonekit.cli ...`, as the `clonekit` script (and `accelerate launch -m clonekit.cli train`)."""

from clonekit.cli import main

main()
