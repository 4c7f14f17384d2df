"""Our own definitions of the Functions worker protocol's messages, handed to the Python worker.

Why our own: ``azure_functions_runtime`` (Microsoft's Python worker library, the very code that
runs the app in Azure from Python 3.13 on) does not ship the protocol's message classes; its
caller passes a module of them in ``properties["protos"]`` and the worker reads requests and
builds replies with it. The real host speaks protobuf over gRPC; the dev host calls the worker
in-process, so plain classes with the protocol's field names are enough: no wire encoding, no
protobuf dependency.

Where each fact comes from:

- Field names and numbers marked ``#n`` are those of ``src/proto/FunctionRpc.proto`` in
  Azure/azure-functions-language-worker-protobuf (the copies read here, commits 0256969 and
  72f4fca; the protocol's public definition).
- Fields marked ``worker`` were added to the protocol after that copy (SDK-type bindings, trace
  and retry context, worker indexing, cookies, worker metadata); their names are the ones
  ``azure_functions_runtime`` 1.3.0 reads or writes (its ``handle_event``, ``loader``,
  ``bindings/context``, ``bindings/datumdef`` and ``bindings/nullable_converters``). Their field
  numbers are not stated because no copy of the newer .proto was at hand; nothing here
  depends on them.
- Enum values are the proto's (``StatusResult.Status``, ``BindingInfo.Direction``,
  ``RpcLog.Level``) or, for the newer enums, the names the worker uses with protobuf's rule
  that the first value is 0.

Semantics kept from protobuf because the worker relies on them: every field has a default (an
unset message field reads as an empty message, so ``request.retry_context.retry_count`` is 0
when the host sent none), ``None`` passed to a constructor leaves a field unset, and a
``oneof`` answers ``WhichOneof(group)`` with the member that was set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar


class Message:
    """A protocol message: keyword construction, protobuf defaults, ``WhichOneof``."""

    FIELDS: ClassVar[dict[str, tuple[int | str, Callable[[], Any]]]] = {}
    """name -> (field number, or "worker" for names taken from the worker's source; default)."""
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, **values: Any) -> None:
        self._set: set[str] = set()
        for name, value in values.items():
            if name not in self.FIELDS:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            if value is not None:  # protobuf: None leaves the field unset
                object.__setattr__(self, name, value)
                self._set.add(name)

    def __getattr__(self, name: str) -> Any:
        """An unset field reads as its default, made on first read (messages nest recursively)."""
        fields = type(self).FIELDS
        if name not in fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        value = fields[name][1]()
        object.__setattr__(self, name, value)
        return value

    def WhichOneof(self, group: str) -> str | None:
        for name in self.ONEOFS[group]:
            if name in self._set:
                return name
        return None

    def HasField(self, name: str) -> bool:
        return name in self._set

    def __repr__(self) -> str:  # field names only: values may be trigger payloads
        return f"{type(self).__name__}({', '.join(sorted(self._set))})"


def _message(cls: type[Message]) -> Callable[[], Message]:
    return lambda: cls()


def _enum(cls: type, **members: int) -> type:
    """Protobuf exposes enum values as ints on the message class (``StatusResult.Success``)."""
    for name, value in members.items():
        setattr(cls, name, value)
    return cls


# -- small messages ---------------------------------------------------------------------------


class RpcException(Message):
    FIELDS = {"source": (3, str), "stack_trace": (1, str), "message": (2, str)}


class RpcLog(Message):
    FIELDS = {
        "invocation_id": (1, str),
        "category": (2, str),
        "level": (3, int),
        "message": (4, str),
        "event_id": (5, str),
        "exception": (6, _message(RpcException)),
        "properties": (7, str),
    }


_enum(RpcLog, Trace=0, Debug=1, Information=2, Warning=3, Error=4, Critical=5)
setattr(RpcLog, "None", 6)


class StatusResult(Message):
    FIELDS = {
        "status": (4, int),
        "result": (1, str),
        "exception": (2, _message(RpcException)),
        "logs": (3, list),
    }
    Failure: ClassVar[int]
    Success: ClassVar[int]
    Cancelled: ClassVar[int]


_enum(StatusResult, Failure=0, Success=1, Cancelled=2)


class Timestamp(Message):
    """google.protobuf.Timestamp's two fields (the worker looks for ``protos.Timestamp``)."""

    FIELDS = {"seconds": (1, int), "nanos": (2, int)}


class NullableString(Message):
    FIELDS = {"value": ("worker", str)}
    ONEOFS = {"string": ("value",)}


class NullableDouble(Message):
    FIELDS = {"value": ("worker", float)}
    ONEOFS = {"double": ("value",)}


class NullableBool(Message):
    FIELDS = {"value": ("worker", bool)}
    ONEOFS = {"bool": ("value",)}


class NullableTimestamp(Message):
    FIELDS = {"value": ("worker", _message(Timestamp))}
    ONEOFS = {"timestamp": ("value",)}


class RpcHttpCookie(Message):
    FIELDS = {
        "name": ("worker", str),
        "value": ("worker", str),
        "domain": ("worker", _message(NullableString)),
        "path": ("worker", _message(NullableString)),
        "expires": ("worker", _message(NullableTimestamp)),
        "secure": ("worker", _message(NullableBool)),
        "http_only": ("worker", _message(NullableBool)),
        "same_site": ("worker", int),
        "max_age": ("worker", _message(NullableDouble)),
    }

    class SameSite:
        Lax = 1
        Strict = 2
        ExplicitNone = 3


setattr(RpcHttpCookie.SameSite, "None", 0)


class ModelBindingData(Message):
    """What an SDK-type binding gets instead of the data (the blob extension reads these)."""

    FIELDS = {
        "version": ("worker", str),
        "source": ("worker", str),
        "content_type": ("worker", str),
        "content": ("worker", bytes),
    }


# -- TypedData and RpcHttp refer to each other ------------------------------------------------


class RpcHttp(Message):
    FIELDS: ClassVar[dict[str, tuple[int | str, Callable[[], Any]]]] = {}


class TypedData(Message):
    FIELDS = {
        "string": (1, str),
        "json": (2, str),
        "bytes": (3, bytes),
        "stream": (4, bytes),
        "http": (5, _message(RpcHttp)),
        "int": (6, int),
        "double": (7, float),
        "collection_bytes": ("worker", list),
        "collection_string": ("worker", list),
        "collection_double": ("worker", list),
        "collection_sint64": ("worker", list),
        "model_binding_data": ("worker", _message(ModelBindingData)),
        "collection_model_binding_data": ("worker", list),
    }
    ONEOFS = {"data": tuple(FIELDS)}


RpcHttp.FIELDS = {
    "method": (1, str),
    "url": (2, str),
    "headers": (3, dict),
    "body": (4, _message(TypedData)),
    "params": (10, dict),
    "status_code": (12, str),
    "query": (15, dict),
    "enable_content_negotiation": (16, bool),
    "rawBody": (17, _message(TypedData)),
    "cookies": ("worker", list),
    "identities": ("worker", list),
    "nullable_headers": ("worker", dict),
    "nullable_params": ("worker", dict),
    "nullable_query": ("worker", dict),
}


class ParameterBinding(Message):
    """``data`` is in the ``rpc_data`` oneof (beside shared memory, which we never offer)."""

    FIELDS = {"name": (1, str), "data": (2, _message(TypedData)), "rpc_shared_memory": ("worker", dict)}
    ONEOFS = {"rpc_data": ("data", "rpc_shared_memory")}


class BindingInfo(Message):
    FIELDS = {"type": (2, str), "direction": (3, int), "data_type": ("worker", int)}
    out: ClassVar[int]


_enum(BindingInfo, out=1, inout=2, undefined=0, string=1, binary=2, stream=3)
setattr(BindingInfo, "in", 0)


class RpcRetryOptions(Message):
    FIELDS = {
        "max_retry_count": ("worker", int),
        "delay_interval": ("worker", timedelta),
        "minimum_interval": ("worker", timedelta),
        "maximum_interval": ("worker", timedelta),
        "retry_strategy": ("worker", str),
    }


class RpcFunctionMetadata(Message):
    FIELDS = {
        "name": (4, str),
        "directory": (1, str),
        "script_file": (2, str),
        "entry_point": (3, str),
        "bindings": (6, dict),
        "function_id": ("worker", str),
        "is_proxy": ("worker", bool),
        "language": ("worker", str),
        "raw_bindings": ("worker", list),
        "managed_dependency_enabled": ("worker", bool),
        "retry_options": ("worker", _message(RpcRetryOptions)),
        "properties": ("worker", dict),
    }


class WorkerMetadata(Message):
    FIELDS = {
        "runtime_name": ("worker", str),
        "runtime_version": ("worker", str),
        "worker_version": ("worker", str),
        "worker_bitness": ("worker", str),
        "custom_properties": ("worker", dict),
    }


class RpcTraceContext(Message):
    FIELDS = {"trace_parent": ("worker", str), "trace_state": ("worker", str), "attributes": ("worker", dict)}


class RetryContext(Message):
    FIELDS = {
        "retry_count": ("worker", int),
        "max_retry_count": ("worker", int),
        "exception": ("worker", _message(RpcException)),
    }


# -- requests and responses -------------------------------------------------------------------


class WorkerInitRequest(Message):
    FIELDS = {
        "host_version": (1, str),
        "capabilities": (2, dict),
        "log_categories": (3, dict),
        "worker_directory": ("worker", str),
        "function_app_directory": ("worker", str),
    }


class WorkerInitResponse(Message):
    FIELDS = {
        "worker_version": (1, str),
        "capabilities": (2, dict),
        "result": (3, _message(StatusResult)),
        "worker_metadata": ("worker", _message(WorkerMetadata)),
    }


class FunctionsMetadataRequest(Message):
    FIELDS = {"function_app_directory": ("worker", str)}


class FunctionMetadataResponse(Message):
    FIELDS = {
        "function_metadata_results": ("worker", list),
        "result": ("worker", _message(StatusResult)),
        "use_default_metadata_indexing": ("worker", bool),
    }


class FunctionLoadRequest(Message):
    FIELDS = {
        "function_id": (1, str),
        "metadata": (2, _message(RpcFunctionMetadata)),
        "managed_dependency_enabled": ("worker", bool),
    }


class FunctionLoadResponse(Message):
    FIELDS = {"function_id": (1, str), "result": (2, _message(StatusResult))}


class InvocationRequest(Message):
    FIELDS = {
        "invocation_id": (1, str),
        "function_id": (2, str),
        "input_data": (3, list),
        "trigger_metadata": (4, dict),
        "trace_context": ("worker", _message(RpcTraceContext)),
        "retry_context": ("worker", _message(RetryContext)),
    }


class InvocationResponse(Message):
    FIELDS = {
        "invocation_id": (1, str),
        "output_data": (2, list),
        "return_value": (4, _message(TypedData)),
        "result": (3, _message(StatusResult)),
    }


class FunctionEnvironmentReloadRequest(Message):
    FIELDS = {
        "environment_variables": (1, dict),
        "function_app_directory": ("worker", str),
    }


class FunctionEnvironmentReloadResponse(Message):
    FIELDS = {
        "capabilities": ("worker", dict),
        "worker_metadata": ("worker", _message(WorkerMetadata)),
        "result": (3, _message(StatusResult)),
    }


class StreamingMessage(Message):
    """The envelope: ``request_id`` and one request in the ``content`` oneof."""

    FIELDS = {
        "request_id": (1, str),
        "worker_init_request": (17, _message(WorkerInitRequest)),
        "function_load_request": (8, _message(FunctionLoadRequest)),
        "invocation_request": (4, _message(InvocationRequest)),
        "functions_metadata_request": ("worker", _message(FunctionsMetadataRequest)),
        "function_environment_reload_request": (25, _message(FunctionEnvironmentReloadRequest)),
    }
    ONEOFS = {"content": tuple(name for name in FIELDS if name != "request_id")}
