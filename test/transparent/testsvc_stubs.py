"""testsvc message and service modules, compiled at run time.

proto/testsvc.proto is compiled with grpc_tools.protoc into a temporary
directory and imported from there; nothing is generated into the tree.
"""

import importlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "proto")


def load(out_dir):
    """(testsvc_pb2, testsvc_pb2_grpc), compiled into out_dir."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I" + PROTO_ROOT,
            "--python_out=" + out_dir,
            "--grpc_python_out=" + out_dir,
            os.path.join(PROTO_ROOT, "testsvc.proto"),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError("protoc failed: %s" % result.stderr.strip())
    sys.path.insert(0, out_dir)
    return importlib.import_module("testsvc_pb2"), importlib.import_module("testsvc_pb2_grpc")


def status_code(number):
    """The grpc.StatusCode with this number."""
    import grpc

    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    raise ValueError("no gRPC status code %d" % number)
