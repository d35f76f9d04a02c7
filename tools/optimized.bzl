"""`optimized_files`: files built with -c opt whatever mode the build is in.

The installer uses it, so that `bazel run //tools:install -- --prefix DIR`
(Bazel's default mode is fastbuild: no optimization) still installs an
optimized library and programs.
"""

def _opt_transition_impl(settings, attr):
    return {"//command_line_option:compilation_mode": "opt"}

_opt_transition = transition(
    implementation = _opt_transition_impl,
    inputs = [],
    outputs = ["//command_line_option:compilation_mode"],
)

def _optimized_files_impl(ctx):
    files = depset(transitive = [src[DefaultInfo].files for src in ctx.attr.srcs])
    runfiles = ctx.runfiles(transitive_files = files)
    for src in ctx.attr.srcs:
        runfiles = runfiles.merge(src[DefaultInfo].default_runfiles)
    return [DefaultInfo(files = files, runfiles = runfiles)]

optimized_files = rule(
    implementation = _optimized_files_impl,
    doc = "The files of `srcs`, built in compilation mode opt.",
    attrs = {
        "srcs": attr.label_list(allow_files = True, cfg = _opt_transition),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
