"""Entry point for `python -m advisor`."""

from advisor.runtime import pin_threads

pin_threads()

from advisor.cli import main  # noqa: E402  (threads must be pinned before numeric imports)

raise SystemExit(main())
