"""What every octopus_ros node executable shares: parameter declaration from a spec table, and the
spin-until-shutdown loop with a clean (never hanging) exit."""
from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    type: Parameter.Type
    description: str


def declare_parameters(node: Node, specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
    """Declare every parameter with its description and default; return {name: value} (lists as lists)."""
    values = {}
    for spec in specs:
        descriptor = ParameterDescriptor(description=f"{spec.description} Default: {spec.default!r}.")
        if isinstance(spec.default, list) and not spec.default:
            # An empty list has no type for rclpy (and `[]` in a params file arrives unset):
            # declare the type only, and fall back to the empty default.
            node.declare_parameter(spec.name, spec.type, descriptor)
            param = node.get_parameter_or(spec.name, Parameter(spec.name, spec.type, []))
            values[spec.name] = list(param.value or [])
            continue
        value = node.declare_parameter(spec.name, spec.default, descriptor).value
        values[spec.name] = list(value) if isinstance(value, (list, tuple)) else value
    return values


def spin_until(executor: Executor, cond: Callable[[], Any], timeout: float, step_s: float = 0.05) -> Any:
    """Spin `executor` until cond() is truthy or `timeout` seconds pass; returns cond()'s last value.
    Waits on the condition, never on a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            return value
        executor.spin_once(timeout_sec=min(step_s, left))


def spin_until_shutdown(label: str, make_node: Callable[[], Node], make_executor: Callable[[], Executor],
                        close: Callable[[Node], bool], on_error: Callable[[Node, Exception], None] | None = None,
                        args: list[str] | None = None) -> int:
    """rclpy.init, build the node, spin until SIGINT/SIGTERM, then close(node). Exit status 1 (with the
    reason on stderr) when the node cannot be built. close() returns True when a worker is inside a call
    that cannot be interrupted (a model forward): the process then leaves with os._exit, because tearing
    the interpreter down under a running torch / CTranslate2 op can hang."""
    rclpy.init(args=sys.argv if args is None else args)  # installs SIGINT/SIGTERM handlers
    executor = make_executor()   # an executor needs an initialised context
    node = None
    leave_now = False
    try:
        node = make_node()
        executor.add_node(node)
        while rclpy.ok():
            try:
                executor.spin_once(timeout_sec=0.5)
            except (KeyboardInterrupt, ExternalShutdownException):
                break
            except Exception as exc:  # noqa: BLE001 - e.g. a message that fails to deserialise
                if on_error is None:
                    raise
                on_error(node, exc)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # noqa: BLE001 - bad parameters etc.: say it clearly, exit non-zero
        print(f"{label}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if node is not None:
            leave_now = bool(close(node))
        if isinstance(executor, MultiThreadedExecutor):
            # a service callback may be waiting (up to its timeout) for the worker: do not join it
            executor.shutdown(timeout_sec=1.0, wait_for_threads=False)
        else:
            executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown()
        if leave_now:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return 0


# ---- clients of a node (the CLI's confirm, reload and objects teach-camera; the soak test) -----------------
@contextlib.contextmanager
def ros_client(name: str = "octopus_cli") -> Iterator[tuple[Node, Executor]]:
    """(node, executor): a node called `name` plus a unique suffix, in a context of its own, shut down on exit."""
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.context.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f"{name}_{os.getpid()}_{uuid.uuid4().hex[:4]}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield node, executor
    finally:
        executor.shutdown(timeout_sec=0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def call_service(node, executor, client, request, timeout: float):
    """The service's response, or None when it does not appear or answer within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    if not client.wait_for_service(timeout_sec=timeout):
        return None
    future = client.call_async(request)
    while not future.done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return future.result() if future.done() else None
