"""`system_library`: a Debian package's headers and libraries, seen by Bazel.

Nothing is downloaded. The rule checks that the package is installed (by
probing one of its files) and fails with the `apt-get install` line that fixes
it; otherwise it links the package's folders into the repository and lays down
the BUILD file from third_party/, with %{multiarch} filled in.
"""

def _multiarch(ctx):
    result = ctx.execute(["gcc", "-print-multiarch"])
    triplet = result.stdout.strip()
    return triplet if result.return_code == 0 and triplet else "x86_64-linux-gnu"

def _system_library_impl(ctx):
    multiarch = _multiarch(ctx)
    for probe in ctx.attr.probes:
        path = ctx.path(probe.replace("%{multiarch}", multiarch))
        if not path.exists:
            fail(("@{name}: {path} is missing. Install it with:\n" +
                  "    apt-get install -y {packages}\n" +
                  "(or run tools/setup.sh, which installs everything this project needs)").format(
                name = ctx.name,
                path = path,
                packages = ctx.attr.packages,
            ))
    for link, target in ctx.attr.links.items():
        ctx.symlink(target.replace("%{multiarch}", multiarch), link)
    ctx.template("BUILD.bazel", ctx.attr.build_file, {"%{multiarch}": multiarch})
    ctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(ctx.name))

system_library = repository_rule(
    implementation = _system_library_impl,
    local = True,
    attrs = {
        "build_file": attr.label(mandatory = True, allow_single_file = True),
        "links": attr.string_dict(doc = "folder in the repository -> absolute system path"),
        "packages": attr.string(mandatory = True, doc = "Debian packages that provide it"),
        "probes": attr.string_list(mandatory = True, doc = "files that must exist"),
    },
)
