"""A repository of the Python headers and pybind11 of the `python3` on PATH.

The extension (//python:_braid.so) must be built for the interpreter users run: the pyenv
CPython on PATH here, not Debian's /usr/bin/python3. This rule asks that interpreter where its
headers and pybind11's are, links them into the repository, and records the interpreter's
extension suffix. It reruns when PATH or PYENV_VERSION changes (another interpreter).
"""

def _python_configure_impl(ctx):
    python = ctx.which("python3")
    if python == None:
        fail("python_configure: no python3 on PATH")
    script = "\n".join([
        "import sysconfig, pybind11",
        "print(sysconfig.get_paths()['include'])",
        "print(pybind11.get_include())",
        "print(sysconfig.get_config_var('EXT_SUFFIX'))",
        "import sys; print(sys.executable)",
    ])
    result = ctx.execute([python, "-c", script])
    if result.return_code != 0:
        fail("python_configure: %s cannot report its headers and pybind11 (tools/setup.sh " % python +
             "installs pybind11):\n" + result.stderr)
    python_include, pybind11_include, ext_suffix, executable = result.stdout.strip().split("\n")
    ctx.symlink(python_include, "python_include")
    ctx.symlink(pybind11_include, "pybind11_include")
    ctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

# Headers only: an extension module resolves the interpreter's symbols when it is imported.
cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
)

cc_library(
    name = "pybind11",
    hdrs = glob(["pybind11_include/pybind11/**/*.h"]),
    includes = ["pybind11_include"],
    deps = [":python_headers"],
)
""")
    ctx.file("interpreter.bzl", "PYTHON = %r\nEXT_SUFFIX = %r\n" % (executable, ext_suffix))

python_configure = repository_rule(
    implementation = _python_configure_impl,
    environ = ["PATH", "PYENV_VERSION"],
    local = True,
)
