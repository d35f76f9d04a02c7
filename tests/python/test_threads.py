"""The GIL is released while a call waits: a thread blocked in recv_obj does
not stop the others."""
import os
import threading
import time

import pytest


def wait_for_file(path, deadline):
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.001)


def test_thread_waits_in_recv_while_main_thread_computes(group):
    if group.world_size < 2:
        pytest.skip("needs 2 ranks")
    # Every rank of a test job sees the same TEST_TMPDIR (one node).
    signal = os.path.join(os.environ.get("TEST_TMPDIR", "/tmp"),
                          f"computed-{os.environ.get('OMPI_COMM_WORLD_SIZE')}")
    if group.rank == 1:
        # Send only once rank 0's main thread has computed while its other
        # thread was blocked in recv_obj.
        wait_for_file(signal, time.monotonic() + 60)
        group.send_obj("done waiting", dst=0)
    elif group.rank == 0:
        if os.path.exists(signal):
            os.remove(signal)
        received = []
        waiter = threading.Thread(target=lambda: received.append(group.recv_obj(src=1)))
        waiter.start()
        total = 0
        for i in range(200_000):  # pure Python: needs the GIL
            total += i
        assert waiter.is_alive() and not received  # still waiting for rank 1
        with open(signal, "w") as out:
            out.write(str(total))
        waiter.join(timeout=60)
        assert received == ["done waiting"]
        os.remove(signal)
