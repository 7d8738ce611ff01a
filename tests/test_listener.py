"""Workers taking turns at the listening socket (storefront/listener.py); the spread of a
burst over two real workers is tested in test_metrics_gunicorn.py."""

from __future__ import annotations

import os
import subprocess
import sys

from storefront.listener import LoadBoard


def test_a_worker_is_ahead_only_of_a_live_sibling_holding_fewer(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left_behind = LoadBoard(str(tmp_path), pid=gone.pid)  # a worker that died: its file stays
    me = LoadBoard(str(tmp_path))
    sibling = LoadBoard(str(tmp_path), pid=os.getppid())
    me.add(2)
    sibling.add(1)
    assert not me.ahead()  # one more than the sibling is even enough
    me.add(1)
    assert me.ahead() and not sibling.ahead()  # the file of the dead one counts for nothing
    me.add(-2)
    assert not me.ahead() and me.held == 1
    sibling.add(-1)
    me.add(5)
    assert me.ahead()
    sibling.retire()  # it stops accepting (a restart): no one waits for it to take turns
    assert not me.ahead() and not sibling.ahead()
    for board in (me, sibling, left_behind):
        board.close()
    assert list(tmp_path.iterdir()) == []
