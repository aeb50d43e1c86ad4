"""The container model SPEC parser and what a cell reads from DesiredLRPs and Tasks."""

from __future__ import annotations

import random
import statistics

import pytest

from pytest_diego.bbs import models
from pytest_diego.cluster.cell import behaviour
from pytest_diego.cluster.cell.__main__ import parse_args
from pytest_diego.cluster.cell.container_model import ContainerModel, parse_container_model


@pytest.mark.parametrize(("spec", "model"), [
    ("0", ContainerModel("zero")),
    ("fixed:0.5", ContainerModel("fixed", 0.5)),
    ("uniform:0.1,0.5", ContainerModel("uniform", 0.1, 0.5)),
    (" lognormal:0.2,0.5 ", ContainerModel("lognormal", 0.2, 0.5)),
    ("scaled:fixed:4", ContainerModel("fixed", 4.0, scaled=True)),
    ("scaled:lognormal:2,0.55", ContainerModel("lognormal", 2.0, 0.55, scaled=True)),
    ("scaled:0", ContainerModel("zero", scaled=True)),
])
def test_container_model_specs(spec, model):
    assert parse_container_model(spec) == model


@pytest.mark.parametrize(("spec", "message"), [
    ("fast", "expected '0', 'fixed:S'"),
    ("gamma:1,2", "unknown kind 'gamma'"),
    ("fixed:a", "'a' is not a list of numbers"),
    ("fixed:1,2", "fixed takes 1 value(s), got 2"),
    ("uniform:0.5,0.1", "uniform needs A <= B"),
    ("lognormal:0,1", "median must be > 0"),
    ("fixed:-1", "finite and >= 0"),
    ("fixed:inf", "finite and >= 0"),
    ("scaled:soon", "optionally after 'scaled:'"),
    ("scaled:", "expected '0'"),
])
def test_container_model_errors_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match="container model") as e:
        parse_container_model(spec)
    assert message in str(e.value)


def test_container_model_samples():
    rng = random.Random(7)
    assert parse_container_model("0").sample(rng) == 0.0
    assert parse_container_model("fixed:0.25").sample(rng) == 0.25
    uniform = [parse_container_model("uniform:0.1,0.2").sample(rng) for _ in range(500)]
    assert min(uniform) >= 0.1 and max(uniform) <= 0.2
    lognormal = [parse_container_model("lognormal:0.3,0.4").sample(rng) for _ in range(4000)]
    assert statistics.median(lognormal) == pytest.approx(0.3, rel=0.05)


def test_only_scaled_models_follow_the_time_scale():
    rng = random.Random(7)
    assert parse_container_model("fixed:4").sample(rng, time_scale=0.1) == 4.0
    assert parse_container_model("scaled:fixed:4").sample(rng, time_scale=0.1) == pytest.approx(0.4)
    assert parse_container_model("scaled:fixed:4").sample(rng, time_scale=1.0) == 4.0
    uniform = [parse_container_model("scaled:uniform:1,3").sample(rng, 0.1) for _ in range(500)]
    assert min(uniform) >= 0.1 and max(uniform) <= 0.3 + 1e-9
    lognormal = [parse_container_model("scaled:lognormal:2,0.55").sample(rng, 0.1) for _ in range(4000)]
    assert statistics.median(lognormal) == pytest.approx(0.2, rel=0.05)
    # the shape stays: the 90th percentile is still about 2x the median (exp(1.2816 * 0.55))
    assert statistics.quantiles(lognormal, n=10)[-1] / statistics.median(lognormal) == pytest.approx(
        2.02, rel=0.1)


def test_cli_rejects_a_bad_container_model(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--state-dir", "/tmp/x", "--bbs-url", "http://127.0.0.1:1", "--cell-id", "cell-0",
                    "--locket-address", "127.0.0.1:2", "--container-model", "soon"])
    assert "container model 'soon'" in capsys.readouterr().err
    args = parse_args(["--state-dir", "/tmp/x", "--bbs-url", "http://b", "--cell-id", "c",
                       "--locket-address", "l:1", "--time-scale", "0.1"])
    assert args.crash_time_scale == 0.1 and args.memory_mb == 32768 and args.containers == 250


def env(**values: str) -> list[models.EnvironmentVariable]:
    return [models.EnvironmentVariable(name=k, value=v) for k, v in values.items()]


def nested_run(run: models.RunAction) -> models.Action:
    """A RunAction inside timeout(serial(download, run)), the shape Cloud Controller sends."""
    download = models.Action(download_action=models.DownloadAction(to="/tmp/app"))
    serial = models.SerialAction(actions=[download, models.Action(run_action=run)])
    return models.Action(timeout_action=models.TimeoutAction(action=models.Action(serial_action=serial)))


def test_crash_window_comes_from_the_desired_lrp_env_and_scales():
    rng = random.Random(1)
    run = models.RunAction(path="app", env=env(MAX_SECONDS_TIL_CRASH="360"))
    lrp = models.DesiredLRP(process_guid="p", environment_variables=env(MIN_SECONDS_TIL_CRASH="30"),
                            action=nested_run(run))
    samples = [behaviour.crash_after(lrp, rng, 0.1) for _ in range(200)]
    assert all(3.0 <= s <= 36.0 for s in samples)
    assert max(samples) - min(samples) > 10  # really drawn from the window, not a constant
    fixed = models.DesiredLRP(environment_variables=env(MAX_SECONDS_TIL_CRASH="2"))
    assert behaviour.crash_after(fixed, rng, 1.0) == 2.0
    assert behaviour.crash_after(models.DesiredLRP(), rng, 1.0) is None
    with pytest.raises(ValueError, match="MIN_SECONDS_TIL_CRASH='soon' is not a number"):
        bad = models.DesiredLRP(environment_variables=env(MIN_SECONDS_TIL_CRASH="soon"))
        behaviour.crash_after(bad, rng, 1)


def test_task_duration_from_env_or_sleep_args():
    def task(action: models.Action | None = None, **e: str) -> models.Task:
        definition = models.TaskDefinition(environment_variables=env(**e))
        if action is not None:
            definition.action.CopyFrom(action)
        return models.Task(task_guid="t", task_definition=definition)

    assert behaviour.task_duration(task(TASK_DURATION_SECONDS="1.5")) == 1.5
    sleeper = nested_run(models.RunAction(path="sh", args=["-c", "echo hi; sleep 2.5; echo done"]))
    assert behaviour.task_duration(task(sleeper)) == 2.5
    env_in_run = nested_run(models.RunAction(path="sh", args=["-c", "sleep 9"],
                                             env=env(TASK_DURATION_SECONDS="0.1")))
    assert behaviour.task_duration(task(env_in_run)) == 0.1
    assert behaviour.task_duration(task()) == 0.0


def test_container_port_is_the_first_desired_port_or_8080():
    assert behaviour.container_port(models.DesiredLRP(ports=[9090, 8080])) == 9090
    assert behaviour.container_port(models.DesiredLRP()) == 8080
