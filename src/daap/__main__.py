"""``python -m daap`` is the ``daap`` command."""

from daap.cli.main import main

main()
