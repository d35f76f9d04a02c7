"""`mpi_test`: one GoogleTest binary, one Bazel test per rank count and transport."""

MPI_TRANSPORTS = ["shm", "tcp"]

# Simulated clusters (tools/cluster.sh) as (nodes, ranks per node).
MPI_NODES = [(2, 2), (3, 2)]

def mpi_node_tests(name, binary, nodes = MPI_NODES, size = "medium", tags = [], **kwargs):
    """The tests `name`_nodes<N>x<K>: `binary` under mpilaunch.sh across simulated nodes.

    Shared memory within a node, TCP between; tagged "mpi" and "nodes"
    (they need root: tools/cluster.sh). Returns the test names.

    Args:
      name: base name.
      binary: the MPI program's label.
      nodes: simulated clusters as (nodes, ranks per node).
      size: Bazel test size, which sets its timeout.
      tags: extra tags.
      **kwargs: passed to each sh_test.
    """
    tests = []
    for (node_count, ranks_per_node) in nodes:
        test = "%s_nodes%dx%d" % (name, node_count, ranks_per_node)
        native.sh_test(
            name = test,
            size = size,
            srcs = ["//tools:mpilaunch.sh"],
            args = [
                "--nodes",
                str(node_count),
                "--np",
                str(node_count * ranks_per_node),
                "$(rootpath %s)" % binary,
            ],
            data = [
                binary,
                "//tools:cluster.sh",
                "//tools:lsan_suppressions.txt",
            ],
            tags = tags + ["mpi", "nodes"],
            **kwargs
        )
        tests.append(test)
    return tests

def mpi_test(
        name,
        srcs,
        deps = [],
        np = [1, 2, 4, 8],
        transports = MPI_TRANSPORTS,
        nodes = [],
        node_tags = [],
        size = "medium",
        tags = [],
        **kwargs):
    """Builds `name`_bin and the tests `name`_np<N>_<transport>.

    Each test runs the binary under mpirun (tools/mpilaunch.sh) with the
    MPI-aware GoogleTest main of //tests:mpi_gtest_main. The test_suite
    `name` holds them all.

    Args:
      name: base name.
      srcs: test sources.
      deps: libraries the tests use.
      np: rank counts; more ranks than cores run oversubscribed.
      transports: "shm" and/or "tcp" (see tools/mpilaunch.sh).
      nodes: simulated clusters as (nodes, ranks per node), e.g. MPI_NODES:
        the tests `name`_nodes<N>x<K>, shared memory within a node and TCP
        between; tagged "nodes" (they need root: tools/cluster.sh).
      node_tags: extra tags of those tests only (e.g. "noasan").
      size: Bazel test size, which sets its timeout.
      tags: extra tags; every target also gets "mpi".
      **kwargs: passed to each sh_test.
    """
    binary = name + "_bin"
    native.cc_binary(
        name = binary,
        testonly = True,
        srcs = srcs,
        deps = deps + ["//tests:mpi_gtest_main"],
    )
    tests = []
    for ranks in np:
        for transport in transports:
            test = "%s_np%d_%s" % (name, ranks, transport)
            native.sh_test(
                name = test,
                size = size,
                srcs = ["//tools:mpilaunch.sh"],
                args = [
                    "--np",
                    str(ranks),
                    "--transport",
                    transport,
                    "$(rootpath :%s)" % binary,
                ],
                data = [
                    ":" + binary,
                    "//tools:lsan_suppressions.txt",
                ],
                tags = tags + ["mpi"],
                **kwargs
            )
            tests.append(test)
    tests += mpi_node_tests(name, ":" + binary, nodes, size, tags + node_tags, **kwargs)
    native.test_suite(name = name, tests = tests, tags = tags + ["mpi"])
