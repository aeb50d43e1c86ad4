"""LocketClient's configuration checks, its error messages, and Locket's type rules."""

from __future__ import annotations

import pickle

import grpc
import pytest

from pytest_diego.locket import LocketClient, models
from pytest_diego.locket.errors import (
    InvalidOwnerError,
    InvalidTTLError,
    InvalidTypeError,
    LockCollisionError,
    LocketConfigError,
    LocketConnectionError,
    LocketError,
    LocketTimeoutError,
    LocketTLSError,
    ResourceNotFoundError,
    error_from_rpc,
)

ADDRESS = "127.0.0.1:8891"


class FailedCall(grpc.RpcError):
    """What a failed unary call raises: an RpcError carrying a status code and details."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def mapped(code: grpc.StatusCode, details: str, tls: bool = False):
    return error_from_rpc(FailedCall(code, details), address=ADDRESS, what="Lock of 'bbs'", tls=tls,
                          timeout=10.0)


@pytest.mark.parametrize(("status", "cls"), [
    (models.LOCK_COLLISION, LockCollisionError), (models.RESOURCE_NOT_FOUND, ResourceNotFoundError),
    (models.INVALID_TTL, InvalidTTLError), (models.INVALID_OWNER, InvalidOwnerError),
    (models.INVALID_TYPE, InvalidTypeError),
])
def test_lockets_statuses_become_their_own_errors(status, cls):
    error = mapped(status.code, status.message)
    assert type(error) is cls
    assert (error.code, error.locket_message, error.outcome) == (status.code, status.message, status.message)
    assert str(error).startswith(f"Lock of 'bbs' refused by Locket at {ADDRESS}: {status.message} (")


def test_same_code_other_message_is_not_mistaken_for_lockets_status():
    error = mapped(grpc.StatusCode.NOT_FOUND, "something else")
    assert type(error) is LocketError
    assert str(error) == f"Lock of 'bbs' failed at Locket {ADDRESS}: NOT_FOUND: something else"


def test_transport_failures_name_the_address_and_what_to_check():
    refused = mapped(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; Connection refused")
    assert isinstance(refused, LocketConnectionError) and "is it running? check the address" in str(refused)
    timeout = mapped(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    assert isinstance(timeout, LocketTimeoutError)
    assert f"Locket at {ADDRESS} did not answer within 10 s" in str(timeout)
    untrusted = mapped(grpc.StatusCode.UNAVAILABLE, "SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED", tls=True)
    assert isinstance(untrusted, LocketTLSError) and "check ca_file" in str(untrusted)
    closed = mapped(grpc.StatusCode.UNAVAILABLE, "ipv4:127.0.0.1:8891: Socket closed", tls=True)
    assert isinstance(closed, LocketTLSError) and "check cert_file/key_file" in str(closed)


def test_errors_survive_pickling_with_their_attributes():
    error = mapped(models.LOCK_COLLISION.code, models.LOCK_COLLISION.message)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.address, copy.code) == (
        LockCollisionError, str(error), ADDRESS, grpc.StatusCode.ALREADY_EXISTS)


@pytest.mark.parametrize(("address", "options", "message"), [
    ("localhost", {}, "expected host:port"),
    ("127.0.0.1:port", {}, "expected host:port"),
    (ADDRESS, {"timeout": 0}, "timeout must be > 0"),
    (ADDRESS, {"ca_file": "ca.crt"}, "missing: cert_file, key_file"),
])
def test_bad_configuration_is_refused_before_any_call(address, options, message):
    with pytest.raises(LocketConfigError, match=message):
        LocketClient(address, **options)


def test_fetch_all_takes_a_code_or_lockets_type_names():
    with LocketClient(ADDRESS) as client, pytest.raises(LocketConfigError, match="'lock' or 'presence'"):
        client.fetch_all("cells")


def test_normalized_is_lockets_get_resource():
    assert models.normalized(models.Resource(key="k", type_code=models.PRESENCE)).type == "presence"
    assert models.normalized(models.Resource(key="k", type="lock")).type_code == models.LOCK
    odd = models.normalized(models.Resource(key="k", type="custom"))
    assert (odd.type, odd.type_code) == ("custom", models.UNKNOWN)
    disagree = models.normalized(models.Resource(key="k", type="lock", type_code=models.PRESENCE))
    assert (disagree.type, disagree.type_code) == ("presence", models.PRESENCE)
    assert [models.is_valid_type_code(c) for c in (0, 1, 2, 3)] == [False, True, True, False]


def test_locket_and_bbs_models_share_one_process():
    from pytest_diego.bbs import models as bbs_models

    assert models.Resource.DESCRIPTOR.full_name == "models.Resource"
    assert bbs_models.CellPresence.DESCRIPTOR.full_name == "models.CellPresence"
    request = models.LockRequest(resource=models.Resource(key="k", owner="o", type_code=models.LOCK),
                                 ttl_in_seconds=15)
    # field numbers are Locket's: resource=1 (key=1, owner=2, type_code=5), ttl_in_seconds=2
    assert request.SerializeToString() == b"\n\x08\n\x01k\x12\x01o(\x01\x10\x0f"
