"""Fixtures of the Python suites. Every rank runs the same tests in the same
order (collective calls must match), each under mpirun (see
pytest_launch.sh)."""
import pytest

import fastvideo_dist

# Short enough that a test whose peer failed fails too, instead of hanging.
DEFAULT_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def group():
    pg = fastvideo_dist.StatelessProcessGroup.from_comm(default_timeout=DEFAULT_TIMEOUT)
    yield pg
    pg.close(timeout=DEFAULT_TIMEOUT)


@pytest.fixture(autouse=True)
def in_step(request):
    """Ranks meet before and after every test that uses the group, so that one
    test's messages never reach another's receives."""
    if "group" not in request.fixturenames:
        yield
        return
    pg = request.getfixturevalue("group")
    pg.barrier()
    yield
    pg.barrier()
