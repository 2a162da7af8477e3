"""Entry point for `python -m eval`: benchmarks and evaluation sets."""

from advisor.runtime import pin_threads

pin_threads()

from eval.runner import main  # noqa: E402

raise SystemExit(main())
