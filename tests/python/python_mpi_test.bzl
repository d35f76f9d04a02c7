"""`python_mpi_test`: one shell script, one Bazel test per rank count and transport."""

def python_mpi_test(name, script, data = [], args = [], np = [2, 4], transports = ["shm", "tcp"]):
    """Builds the tests `name`_np<N>_<transport>: `script` TRANSPORT N ARGS...

    The script launches Debian's /usr/bin/python3 under tools/mpilaunch.sh
    with the package from //tools/python:fastvideo_dist. Not under ASan: the
    interpreter is not instrumented.

    Args:
      name: base name.
      script: the test's shell script.
      data: files it needs beyond the launcher and the package.
      args: arguments after the transport and rank count.
      np: rank counts; more ranks than cores run oversubscribed.
      transports: "shm" and/or "tcp" (see tools/mpilaunch.sh).
    """
    for ranks in np:
        for transport in transports:
            native.sh_test(
                name = "%s_np%d_%s" % (name, ranks, transport),
                size = "medium",
                srcs = [script],
                args = [transport, str(ranks)] + args,
                data = data + [
                    "//tools:lsan_suppressions.txt",
                    "//tools:mpilaunch.sh",
                    "//tools/python:fastvideo_dist",
                ],
                tags = [
                    "mpi",
                    "noasan",
                ],
            )
