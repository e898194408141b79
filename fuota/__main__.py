"""`python -m fuota` is the `fuota` command."""

from fuota.cli.app import main

main()
