#!/usr/bin/env python3
"""An independent relay.v1 controller written with Python grpcio.

It proves that a controller in another language works with nothing but the
wire contract (proto/relay/v1/relay.proto), the relay's CA certificate and a
controller token. Message classes are generated at run time into a temporary
directory (grpc_tools.protoc, or the `protoc` binary as a fallback); nothing
from the relay's own code is used.

Usage:
  controller.py ADDRESS CA_PEM TOKEN_FILE DEVICE_ID [--requests N]
  controller.py --probe     exit 0 when grpcio and a proto compiler are usable

Exit status 0 when every check passed, 1 with a "FAIL: ..." line otherwise.
"""

import argparse
import importlib
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_ROOT = os.path.join(REPO_ROOT, "proto")
PROTO_FILE = "relay/v1/relay.proto"
SERVICE = "relay.v1.RelayService"
CALL_TIMEOUT_SECONDS = 20


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def protoc_command():
    """The proto compiler to use: grpc_tools' bundled one, else `protoc`."""
    try:
        importlib.import_module("grpc_tools.protoc")
        return [sys.executable, "-m", "grpc_tools.protoc"]
    except ImportError:
        pass
    protoc = shutil.which("protoc")
    return [protoc] if protoc else None


def probe():
    try:
        importlib.import_module("grpc")
        importlib.import_module("google.protobuf")
    except ImportError as error:
        print("missing Python module: %s" % error.name)
        return 1
    if protoc_command() is None:
        print("missing proto compiler: neither grpc_tools nor protoc found")
        return 1
    print("ok: %s" % sys.executable)
    return 0


def load_relay_pb2(out_dir):
    """Compiles relay.proto into out_dir and imports the message module."""
    command = protoc_command()
    check(command is not None, "no proto compiler (grpc_tools or protoc)")
    result = subprocess.run(
        command + ["-I" + PROTO_ROOT, "--python_out=" + out_dir, os.path.join(PROTO_ROOT, PROTO_FILE)],
        capture_output=True,
        text=True,
    )
    check(result.returncode == 0, "protoc failed: %s" % result.stderr.strip())
    sys.path.insert(0, out_dir)
    return importlib.import_module("relay.v1.relay_pb2")


def relay_stub(channel, pb2):
    """Callables for every RelayService method, built from the proto's own
    service descriptor: method paths and message types come from the contract."""
    service = pb2.DESCRIPTOR.services_by_name["RelayService"]
    check(service.full_name == SERVICE, "unexpected service %s" % service.full_name)
    stub = {}
    for method in service.methods:
        request_class = getattr(pb2, method.input_type.name)
        response_class = getattr(pb2, method.output_type.name)
        factory = {
            (False, False): channel.unary_unary,
            (False, True): channel.unary_stream,
            (True, False): channel.stream_unary,
            (True, True): channel.stream_stream,
        }[(method.client_streaming, method.server_streaming)]
        stub[method.name] = factory(
            "/%s/%s" % (SERVICE, method.name),
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
    return stub


def error_name(pb2, code):
    return pb2.ErrorCode.Name(code)


def list_devices(stub, pb2, metadata, device_id):
    response = stub["ListOnlineDevices"](
        pb2.ListOnlineDevicesRequest(), metadata=metadata, timeout=CALL_TIMEOUT_SECONDS
    )
    ids = [device.device_id for device in response.devices]
    print("ListOnlineDevices: %s" % ", ".join(ids))
    matching = [device for device in response.devices if device.device_id == device_id]
    check(len(matching) == 1, "device %r not listed (got %r)" % (device_id, ids))
    device = matching[0]
    check(device.connection_id != "", "listed device has no connection_id")
    check(
        pb2.DeviceState.Name(device.state) == "ONLINE",
        "device state is %s" % pb2.DeviceState.Name(device.state),
    )
    print("device %s is ONLINE (connection %s, transport %s)" % (device_id, device.connection_id, device.transport))


def pipelined_requests(stub, pb2, metadata, device_id, count, half_close):
    """Sends `count` requests on one ConnectToDevice stream before reading any
    answer, then matches every DeviceResponse to its request by sequence number.
    With half_close the client ends its side right after the last request (as
    `stub.ConnectToDevice(iter(requests))` does); otherwise only after the last
    answer arrived."""
    sent = {}
    outbox = queue.Queue()
    # The relay caches answers per (controller, device, sequence_number): use
    # fresh numbers so reruns against the same relay are real round trips.
    base = random.randint(1, 2**40)
    for index in range(count):
        sequence = base + index
        payload = b"py-payload-%d-" % sequence + os.urandom(16)
        sent[sequence] = payload
        outbox.put(
            pb2.ControllerMessage(
                target_device_id=device_id,
                method_name="echo",
                sequence_number=sequence,
                encrypted_payload=payload,
            )
        )
    outbox.put(None)  # all requests written; keep the stream open until answered
    finished = queue.Queue()

    def requests():
        while True:
            message = outbox.get()
            if message is None:
                break
            yield message
        if not half_close:
            finished.get()  # half-close only after every answer arrived

    responses = stub["ConnectToDevice"](requests(), metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
    received = {}
    try:
        for response in responses:
            sequence = response.sequence_number
            check(sequence in sent, "response for unknown sequence_number %d" % sequence)
            check(sequence not in received, "second response for sequence_number %d" % sequence)
            code = error_name(pb2, response.error)
            check(
                code == "OK",
                "sequence %d: error %s (%s)" % (sequence, code, response.error_message),
            )
            check(
                response.encrypted_payload == sent[sequence],
                "sequence %d: payload not echoed" % sequence,
            )
            check(
                response.device_id in ("", device_id),
                "sequence %d: device_id %r" % (sequence, response.device_id),
            )
            received[sequence] = response
            if len(received) == count:
                finished.put(True)
    finally:
        finished.put(True)
    check(
        len(received) == count,
        "stream ended after %d of %d responses" % (len(received), count),
    )
    print(
        "ConnectToDevice: %d pipelined requests echoed with error OK (%s)"
        % (count, "half-closed after sending" if half_close else "open until answered")
    )


def unknown_device(stub, pb2, metadata):
    device_id = "no-such-device-from-python"
    sequence = random.randint(1, 2**40)
    request = pb2.ControllerMessage(
        target_device_id=device_id,
        method_name="echo",
        sequence_number=sequence,
        encrypted_payload=b"nobody home",
    )
    # A plain list: the client half-closes right after the request.
    responses = list(stub["ConnectToDevice"](iter([request]), metadata=metadata, timeout=CALL_TIMEOUT_SECONDS))
    check(len(responses) == 1, "expected 1 response for unknown device, got %d" % len(responses))
    response = responses[0]
    code = error_name(pb2, response.error)
    check(
        response.sequence_number == sequence,
        "unknown device: sequence_number %d, sent %d" % (response.sequence_number, sequence),
    )
    check(code == "DEVICE_NOT_FOUND", "unknown device: error %s (%s)" % (code, response.error_message))
    print("ConnectToDevice: unknown device answered with DEVICE_NOT_FOUND")


def run(args):
    import grpc

    with open(args.ca, "rb") as handle:
        ca_pem = handle.read()
    with open(args.token_file, "r") as handle:
        token = handle.read().strip()
    check(token != "", "token file %s is empty" % args.token_file)
    metadata = (("authorization", "Bearer " + token),)

    out_dir = tempfile.mkdtemp(prefix="relay-py-stubs-")
    try:
        pb2 = load_relay_pb2(out_dir)
        credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
        with grpc.secure_channel(args.address, credentials) as channel:
            grpc.channel_ready_future(channel).result(timeout=CALL_TIMEOUT_SECONDS)
            stub = relay_stub(channel, pb2)
            list_devices(stub, pb2, metadata, args.device_id)
            pipelined_requests(stub, pb2, metadata, args.device_id, args.requests, half_close=False)
            pipelined_requests(stub, pb2, metadata, args.device_id, args.requests, half_close=True)
            unknown_device(stub, pb2, metadata)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def relay_argument_parser(doc, device_help):
    """The arguments every controller script takes: where the relay is, its CA, a token, a device."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("address", help="relay gRPC address, host:port (host must match the certificate)")
    parser.add_argument("ca", help="PEM file of the CA that issued the relay's certificate")
    parser.add_argument("token_file", help="file holding a controller token (e.g. admin.token)")
    parser.add_argument("device_id", help=device_help)
    return parser


def main():
    if sys.argv[1:] == ["--probe"]:
        return probe()
    parser = relay_argument_parser(__doc__, "an online device that echoes payloads")
    parser.add_argument("--requests", type=int, default=8, help="pipelined requests to send")
    args = parser.parse_args()
    try:
        run(args)
    except CheckFailed as failure:
        print("FAIL: %s" % failure)
        return 1
    except Exception as error:  # grpc.RpcError, OSError, timeouts: name them
        print("FAIL: %s: %s" % (type(error).__name__, error))
        return 1
    print("PASS: Python grpcio controller interoperates with the relay")
    return 0


if __name__ == "__main__":
    sys.exit(main())
