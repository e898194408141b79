"""`python -m fuota` is the `fuota` command."""

from fuota.cli import main

main()
