"""`octopus-ros confirm | reject | reload | policy | soak`: the safety commands of the CLI.

    octopus-ros confirm 3f9c2a1b          # publish the pending call 3f9c2a1b on /octopus/action
    octopus-ros reject 3f9c2a1b           # drop it (outcome rejected)
    octopus-ros reload                    # /octopus/reload_model, then wait for model_state on status
    octopus-ros policy show [--functions F] [--policy-file P]   # the effective policy of every function
    octopus-ros soak --commands 10000     # soak run with accounting and memory growth
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


def _decide(confirmation_id: str, accept: bool, service: str, timeout: float) -> None:
    from octopus_ros.node.runtime import call_service, ros_client
    from octopus_ros.srv import Confirm

    with ros_client() as (node, executor):
        client = node.create_client(Confirm, service)
        response = call_service(node, executor, client, Confirm.Request(confirmation_id=confirmation_id,
                                                                        accept=accept), timeout)
    if response is None:
        typer.echo(f"octopus-ros: no answer from {service} within {timeout:g} s (is the agent node running?)", err=True)
        raise typer.Exit(EXIT_TIMEOUT)
    typer.echo(response.message, err=not response.ok)
    raise typer.Exit(EXIT_OK if response.ok else EXIT_FAILED)


def confirm_command(
    confirmation_id: str = typer.Argument(..., help="PendingCall.confirmation_id (printed on /octopus/pending "
                                                    "and in the node's log)."),
    service: str = typer.Option("/octopus/confirm", help="octopus_ros/Confirm service of the node."),
    timeout: float = typer.Option(10.0, help="Seconds to wait for the service."),
) -> None:
    """Confirm a pending call: the node publishes it on /octopus/action (outcome confirmed)."""
    _decide(confirmation_id, True, service, timeout)


def reject_command(
    confirmation_id: str = typer.Argument(..., help="PendingCall.confirmation_id."),
    service: str = typer.Option("/octopus/confirm", help="octopus_ros/Confirm service of the node."),
    timeout: float = typer.Option(10.0, help="Seconds to wait for the service."),
) -> None:
    """Reject a pending call: it is never published (outcome rejected)."""
    _decide(confirmation_id, False, service, timeout)


def reload_command(
    service: str = typer.Option("/octopus/reload_model", help="std_srvs/Trigger reload service of the node."),
    status_topic: str = typer.Option("/octopus/status", help="AgentStatus topic of the node."),
    timeout: float = typer.Option(300.0, help="Seconds to wait for the model to be ready (or fail)."),
) -> None:
    """Reload the node's model and safety policy (e.g. after fixing a missing or corrupt checkpoint)."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_srvs.srv import Trigger

    from octopus_ros.msg import AgentStatus
    from octopus_ros.node.runtime import call_service, ros_client

    def go(node, executor):
        events: list = []
        node.create_subscription(AgentStatus, status_topic, events.append,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        response = call_service(node, executor, node.create_client(Trigger, service), Trigger.Request(), min(timeout, 30.0))
        if response is None or not response.success:
            return response, None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in events:
                if msg.message.startswith("model ready") or msg.message.startswith("model load failed"):
                    return response, msg
            events.clear()
            executor.spin_once(timeout_sec=0.1)
        return response, None

    with ros_client() as (node, executor):
        response, outcome = go(node, executor)
    if response is None:
        typer.echo(f"octopus-ros: no answer from {service} (is the agent node running?)", err=True)
        raise typer.Exit(EXIT_TIMEOUT)
    if not response.success:
        typer.echo(f"octopus-ros: {response.message}", err=True)
        raise typer.Exit(EXIT_FAILED)
    if outcome is None:
        typer.echo(f"octopus-ros: reload started, but no result on {status_topic} within {timeout:g} s", err=True)
        raise typer.Exit(EXIT_TIMEOUT)
    typer.echo(outcome.message)
    raise typer.Exit(EXIT_OK if outcome.message.startswith("model ready") else EXIT_FAILED)


policy_app = typer.Typer(help="Inspect the safety policy (docs/safety.md).", no_args_is_help=True)


@policy_app.command("show")
def policy_show(
    functions: Optional[Path] = typer.Option(None, help="Functions YAML (default: the packaged config/functions.yaml)."),
    policy_file: str = typer.Option("", help="Policy overlay YAML, as the node's policy_file parameter."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the policy and print the effective policy of every function (exit 1 with every problem if invalid)."""
    from octopus_ros.actions import ActionRegistry, RegistryError
    from octopus_ros.node.safety_state import load_safety
    from octopus_ros.safety import PolicyError

    try:
        registry = ActionRegistry.from_yaml(functions) if functions else ActionRegistry.default()
        safety = load_safety(registry, policy_file)
    except (RegistryError, PolicyError) as exc:
        typer.echo(f"octopus-ros: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED)
    table = safety.policies.describe()
    if as_json:
        typer.echo(json.dumps(table, ensure_ascii=False, indent=2))
        return
    typer.echo(f"policy of {safety.policies.source}")
    for name, p in table.items():
        flags = [k for k in ("requires_confirmation", "stop") if p[k]] + ([] if p["enabled"] else ["DISABLED"])
        extra = f" args={json.dumps(p['args'], ensure_ascii=False)}" if p["args"] else ""
        typer.echo(f"  {name:20s} min_conf={p['min_confidence']:<4g} rate={p['rate_limit'] or '-':14s} "
                   f"without_image={p['without_image']:6s} {' '.join(flags)}{extra}")
    if safety.stop is not None:
        typer.echo(f"stop fast path ({safety.stop.function_name}): {', '.join(sorted(safety.stop.phrases))}")


def soak_command(
    commands: int = typer.Option(10000, help="Commands to send."),
    rate: float = typer.Option(20.0, help="Commands per second."),
    camera_hz: float = typer.Option(30.0, help="Camera frames per second."),
    width: int = typer.Option(320, help="Camera frame width."),
    height: int = typer.Option(240, help="Camera frame height."),
    model: str = typer.Option("tiny-random", help="Model profile or checkpoint."),
    policy_file: str = typer.Option("config/policy/random-model.yaml",
                                    help="Policy overlay (the default lets the random model's calls through the "
                                         "confidence check; use \"\" for a trained model)."),
    confirmation_timeout: float = typer.Option(2.0, help="The node's confirmation_timeout_s."),
    seed: int = typer.Option(0, help="Random seed of the command mix and the confirm/reject choices."),
    log: Optional[Path] = typer.Option(None, help="Write the node's log here."),
) -> None:
    """Soak the agent node: commands + a camera for a long time; print accounting and memory growth."""
    from octopus_ros.safety.soak import run_soak

    report = run_soak(commands=commands, rate_hz=rate, camera_hz=camera_hz, image_size=(height, width),
                      model=model, policy_file=policy_file, confirmation_timeout_s=confirmation_timeout,
                      seed=seed, log_path=log, progress=lambda text: typer.echo(text, err=True))
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)
