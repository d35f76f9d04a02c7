"""`python_mpi_test`: one shell script, one Bazel test per rank count and transport."""

def python_mpi_test(name, script, data = [], args = [], np = [2, 4], transports = ["shm", "tcp"], nodes = []):
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
      nodes: simulated node counts, 2 ranks each: the tests
        `name`_nodes<N>x2, whose script gets "nodes<N>" as its transport
        (tools/cluster.sh; tagged "nodes").
    """
    placements = [(ranks, transport, "%s_np%d_%s" % (name, ranks, transport), [])
                  for ranks in np for transport in transports]
    placements += [(2 * count, "nodes%d" % count, "%s_nodes%dx2" % (name, count),
                    ["//tools:cluster.sh"]) for count in nodes]
    for ranks, transport, test, cluster in placements:
        native.sh_test(
            name = test,
            size = "medium",
            srcs = [script],
            args = [transport, str(ranks)] + args,
            data = data + cluster + [
                "//tools:lsan_suppressions.txt",
                "//tools:mpilaunch.sh",
                "//tools/python:fastvideo_dist",
            ],
            tags = [
                "mpi",
                "noasan",
            ] + (["nodes"] if cluster else []),
        )
