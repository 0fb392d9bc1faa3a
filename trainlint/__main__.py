"""`python -m trainlint`."""

from trainlint.cli import main

main()
