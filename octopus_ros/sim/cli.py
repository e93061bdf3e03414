"""`octopus-ros sim ...` and `octopus-ros scenario FILE...` (loaded on demand by octopus_ros/cli.py).

    octopus-ros sim run [--layout studio] [--camera-rate 30] [--ros-args ...]   the sim node (+ controller)
    octopus-ros sim up [--model tiny-random]     sim node + agent node as subprocesses (no launch_ros)
    octopus-ros sim snapshot --out frame.png     render the robot's camera offline (no ROS)
    octopus-ros sim layouts                      list the layouts in config/sim/
    octopus-ros scenario scenarios/*.yaml [--model default] [--no-launch]
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="The simulated home (pybullet): sim node, bring-up, offline snapshots.",
                  no_args_is_help=True, add_completion=False)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_command(
    ctx: typer.Context,
    layout: str = typer.Option("", help="Layout name in config/sim/ or a YAML path (default: the params file's)."),
    camera_rate: float = typer.Option(-1.0, help="Camera frames per second (default: the params file's)."),
    params_file: Optional[Path] = typer.Option(None, help="ROS parameters file (default: config/sim.yaml)."),
    log_level: str = typer.Option("info", help="debug, info, warn, error or fatal."),
) -> None:
    """Start the sim node (world + controller) in this process; `--ros-args ...` is passed on."""
    from ..actions import loader
    from .sim_node import main as node_main

    params = params_file or loader.find_config_file("sim.yaml")
    args = ["octopus-ros", "--ros-args", "--log-level", log_level, "--params-file", str(params)]
    if layout:
        args += ["-p", f"layout:={layout}"]
    if camera_rate >= 0:
        args += ["-p", f"camera_rate_hz:={float(camera_rate)}"]
    extra = list(ctx.args)
    if extra and extra[0] == "--ros-args":
        extra = extra[1:]
    raise typer.Exit(node_main(args + extra))


@app.command("up")
def up_command(
    model: str = typer.Option("tiny-random", help="Model of the agent node (\"\" = no agent node)."),
    layout: str = typer.Option("home", help="Layout of the sim."),
    camera_rate: float = typer.Option(10.0, help="Camera frames per second."),
    log_dir: Path = typer.Option(Path("runs/sim"), help="Where the nodes' logs go."),
) -> None:
    """Bring up the sim node and the agent node as subprocesses (what launch/sim.launch.py starts), until Ctrl-C."""
    from .bringup import NodeProcess, agent_command, sim_command

    procs = [NodeProcess("sim", sim_command(layout=layout, camera_rate_hz=float(camera_rate)), log_dir / "sim.log")]
    if model:
        procs.append(NodeProcess("agent", agent_command(model), log_dir / "agent.log"))
    for p in procs:
        typer.echo(f"started {p.name} (pid {p.proc.pid}): {' '.join(p.cmd)}\n  log: {p.log_path}")
    try:
        while all(p.alive() for p in procs):
            time.sleep(0.5)
        for p in procs:
            if not p.alive():
                typer.echo(f"{p.name} exited with {p.proc.returncode}:\n{p.log_tail()}", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            p.stop()


@app.command("snapshot")
def snapshot_command(
    out: Path = typer.Option(Path("sim_frame.png"), help="PNG file to write."),
    layout: str = typer.Option("home", help="Layout."),
    x: Optional[float] = typer.Option(None, help="Robot x (default: the layout's start)."),
    y: Optional[float] = typer.Option(None, help="Robot y."),
    yaw_deg: Optional[float] = typer.Option(None, help="Robot heading in degrees."),
    width: int = typer.Option(320, help="Image width."),
    height: int = typer.Option(240, help="Image height."),
) -> None:
    """Render the robot's camera view offline (no ROS) and list the objects in view."""
    from PIL import Image

    from .layout import LayoutError, load_layout
    from .world import HomeWorld

    try:
        world = HomeWorld(load_layout(layout))
    except LayoutError as exc:
        typer.echo(f"octopus-ros: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE)
    world.set_robot_pose(world.x if x is None else x, world.y if y is None else y,
                         world.yaw if yaw_deg is None else math.radians(yaw_deg))
    Image.fromarray(world.render(width, height)).save(out)
    typer.echo(f"wrote {out} (robot at ({world.x:.2f}, {world.y:.2f}) in {world.robot_room}; "
               f"in view: {', '.join(world.visible_objects()) or 'no objects'})")
    world.close()


@app.command("layouts")
def layouts_command() -> None:
    """List the layouts in config/sim/."""
    from .layout import list_layouts, load_layout

    for name in list_layouts():
        lay = load_layout(name)
        typer.echo(f"{name}: {lay.description} rooms: {', '.join(lay.rooms)}; {len(lay.objects)} objects, "
                   f"{len(lay.devices)} devices")


# ---- scenario ---------------------------------------------------------------------------------------
def run_scenario_files(files: list[Path], model: str = "", launch: bool = True, speed: float = 3.0,
                       camera_rate: float = 10.0, camera_size: tuple[int, int] = (224, 168),
                       log_dir: Path = Path("runs/scenarios"), model_timeout: float = 300.0,
                       printer=typer.echo) -> tuple[int, list]:
    """Run scenario files against a sim (+ agent) brought up here (or already running, launch=False).
    Returns (exit code, [ScenarioResult])."""
    from .bringup import NodeProcess, agent_command, sim_command
    from .scenario import ScenarioClient, ScenarioError, load_scenario, model_trained, run_scenario

    try:
        scenarios = [load_scenario(f) for f in files]
    except ScenarioError as exc:
        printer(f"octopus-ros: {exc}")
        return EXIT_USAGE, []
    if not model:
        trained_default, _ = model_trained("default")
        model = "default" if trained_default else "tiny-random"
    trained, reason = model_trained(model)
    if not trained and model != "default":
        default_ok, default_reason = model_trained("default")
        if not default_ok:
            reason += f"; and {default_reason}"
    printer(f"model: {model} ({'trained' if trained else 'not trained: ' + reason})")
    if not trained:
        printer("  steps marked needs_trained_model are skipped")
    need_agent = any(s.kind == "command" and (trained or not s.needs_trained_model)
                     for sc in scenarios for s in sc.steps)
    log_dir = Path(log_dir) / time.strftime("%Y%m%d-%H%M%S")
    procs: list = []
    client = None
    results = []
    agent_up = "not started (no command steps to run)"
    try:
        if launch and need_agent:
            procs.append(NodeProcess("agent", agent_command(model), log_dir / "agent.log"))
        client = ScenarioClient()
        worlds = list(dict.fromkeys(sc.world for sc in scenarios))
        for world in worlds:
            sim = None
            if launch:
                sim = NodeProcess(f"sim-{Path(world).stem}", sim_command(
                    layout=world, camera_rate_hz=float(camera_rate), camera_width=camera_size[0],
                    camera_height=camera_size[1], linear_speed=float(speed),
                    angular_speed_deg=float(speed) * 60.0, world_state_rate_hz=2.0),
                    log_dir / f"sim-{Path(world).stem}.log")
                procs.append(sim)
            problem = client.wait_sim(60.0)
            if problem:
                tail = sim.log_tail() if sim else ""
                printer(f"[FAIL] world {world}: {problem}\n{tail}")
                for sc in (s for s in scenarios if s.world == world):
                    from .scenario import ScenarioResult

                    results.append(ScenarioResult(sc, error=problem))
                if sim:
                    sim.stop()
                continue
            if need_agent and agent_up.startswith("not started"):
                agent_up = client.wait_agent(model_timeout)
                if agent_up and procs and procs[0].name == "agent":
                    printer(f"agent node problem: {agent_up}\n{procs[0].log_tail(2000)}")
            for sc in (s for s in scenarios if s.world == world):
                results.append(run_scenario(client, sc, trained, reason, agent_up, printer=printer))
            if sim:
                sim.stop()
                procs.remove(sim)
                # the next world's sim must not see this one's late messages
                client.world_states.clear()
    finally:
        if client is not None:
            client.close()
        for p in procs:
            p.stop()
    counts = {k: sum(1 for r in results if r.status == k) for k in ("PASS", "FAIL", "SKIP")}
    steps = [s for r in results for s in r.steps]
    printer(f"{len(results)} scenarios: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped "
            f"({sum(s.status == 'PASS' for s in steps)} steps passed, {sum(s.status == 'FAIL' for s in steps)} "
            f"failed, {sum(s.status == 'SKIP' for s in steps)} skipped); logs in {log_dir}")
    return (EXIT_FAILED if counts["FAIL"] else EXIT_OK), results


def scenario_command(
    files: list[Path] = typer.Argument(..., help="Scenario YAML files (scenarios/*.yaml)."),
    model: str = typer.Option("", help="Agent model (profile, YAML or checkpoint); default: `default` when "
                                       "models/default is trained, else tiny-random (plumbing only)."),
    launch: bool = typer.Option(True, "--launch/--no-launch", help="Start the sim and agent nodes here, or use "
                                                                 "running ones (e.g. ros2 launch octopus_ros "
                                                                 "sim.launch.py)."),
    speed: float = typer.Option(3.0, help="Robot speed in m/s for the sim (0 = actions complete at once)."),
    camera_rate: float = typer.Option(10.0, help="Sim camera frames per second."),
    log_dir: Path = typer.Option(Path("runs/scenarios"), help="Where the nodes' logs go."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON here."),
) -> None:
    """Run closed-loop scenarios in the simulated home and report pass/fail per step.

    Exit status: 0 = no step failed (skipped steps allowed), 1 = a step or scenario failed, 2 = bad file.
    """
    code, results = run_scenario_files(files, model=model, launch=launch, speed=speed, camera_rate=camera_rate,
                                       log_dir=log_dir)
    if json_out is not None:
        data = [{"scenario": r.scenario.name, "file": str(r.scenario.source), "status": r.status, "error": r.error,
                 "steps": [{"index": s.step.index, "step": s.step.describe(), "status": s.status,
                            "detail": s.detail, "seconds": round(s.seconds, 3)} for s in r.steps]}
                for r in results]
        json_out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    raise typer.Exit(code)

