"""Suite-wide hooks.

The suite runs in random order (pytest-randomly, in the ``test`` extra). Its header
line with the seed is not shown under ``-q``, so the seed is repeated in the summary:
``pytest -p randomly --randomly-seed=N`` replays the order of a failing run.
"""

from __future__ import annotations

import pytest


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if not config.pluginmanager.hasplugin("randomly"):
        terminalreporter.write_line("random order: off (pytest-randomly not active)")
        return
    seed = config.getoption("randomly_seed", None)
    shuffled = not config.getoption("randomly_dont_reorganize", False)
    how = "random order" if shuffled else "file order (random seeds only)"
    terminalreporter.write_line(f"{how}: --randomly-seed={seed}")
