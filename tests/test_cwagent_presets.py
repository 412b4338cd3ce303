"""The agent configuration presets: the agent's real schema (checked by the sandbox's copy of the agent's
validator), the demo's paths and groups, one platform per configuration, and the parameter name rule."""

from __future__ import annotations

import itertools
import json

import pytest

from opstui import cwagent_presets as presets
from opstui.sandbox import cw_agent_config, cw_agent_seed, node_logs


def _linux_combinations() -> list[tuple[str, ...]]:
    ids = [p.id for p in presets.presets_for(presets.LINUX)]
    return [c for n in range(1, len(ids) + 1) for c in itertools.combinations(ids, n)]


@pytest.mark.parametrize("chosen", _linux_combinations())
def test_every_linux_combination_passes_the_agents_validation(chosen: tuple[str, ...]) -> None:
    text = presets.config_text(chosen, presets.LINUX)
    config = cw_agent_config.parse(text, "ssm:AmazonCloudWatch-opstui")  # the schema and the second phase
    assert bool(config.files) == bool({"system", "nginx", "app"} & set(chosen))
    assert bool(config.metrics) == ("metrics" in chosen)


def test_the_full_linux_set_is_the_demo_seeds_configuration() -> None:
    """Same paths, groups and timestamp formats as the seeded prod nodes: a node set up here joins the groups
    the Logs tab already shows, one stream per instance."""
    built = presets.agent_config(["system", "nginx", "app", "metrics"], presets.LINUX)
    seed = cw_agent_seed.linux_config()
    assert built["logs"] == seed["logs"]
    assert built["metrics"] == seed["metrics"]
    assert (presets.SYSLOG_REDHAT, presets.SYSLOG_DEBIAN, presets.NGINX_ACCESS, presets.NGINX_ERROR,
            presets.APP_LOG) == (node_logs.SYSLOG_REDHAT, node_logs.SYSLOG_DEBIAN, node_logs.NGINX_ACCESS,
                                 node_logs.NGINX_ERROR, node_logs.APP_LOG)
    assert presets.log_groups(built) == [cw_agent_seed.GROUP_SYSTEM, cw_agent_seed.GROUP_ACCESS,
                                         cw_agent_seed.GROUP_ERROR, cw_agent_seed.GROUP_APP]


def test_windows_presets_are_the_seeds_event_logs_and_pass_validation() -> None:
    built = presets.agent_config(["windows_events", "metrics"], presets.WINDOWS)
    seed = cw_agent_seed.windows_config()
    assert built["logs"] == seed["logs"] and built["metrics"] == seed["metrics"]
    config = cw_agent_config.parse(json.dumps(built), "ssm:x")
    assert [e.event_name for e in config.windows_events] == ["System", "Application"]


def test_a_group_prefix_moves_every_group() -> None:
    built = presets.agent_config(["system", "nginx", "app"], presets.LINUX, "/stg")
    assert presets.log_groups(built) == ["/stg/system/messages", "/stg/nginx/access", "/stg/nginx/error",
                                         "/stg/app/json"]
    assert presets.prefix_problem("/stg") == "" and presets.prefix_problem("stg")
    assert presets.prefix_problem("/a b")


def test_a_mixed_selection_is_refused_with_what_to_do() -> None:
    with pytest.raises(presets.PresetError, match="mixes 2 Linux and 1 Windows.*platform:Windows"):
        presets.platform_of(["Amazon Linux", "Ubuntu", "Microsoft Windows Server 2022 Datacenter"])
    assert presets.platform_of(["Microsoft Windows Server 2022 Datacenter"]) == presets.WINDOWS
    assert presets.platform_of(["Red Hat Enterprise Linux"]) == presets.LINUX


def test_a_preset_of_the_other_platform_or_none_is_refused() -> None:
    with pytest.raises(presets.PresetError, match="Not for Windows nodes: nginx"):
        presets.agent_config(["nginx"], presets.WINDOWS)
    with pytest.raises(presets.PresetError, match="Not for Linux nodes: Windows event logs"):
        presets.agent_config(["windows_events"], presets.LINUX)
    with pytest.raises(presets.PresetError, match="at least one"):
        presets.agent_config([], presets.LINUX)


def test_the_parameter_must_be_one_the_agents_managed_policy_can_read() -> None:
    assert presets.parameter_problem("AmazonCloudWatch-opstui") == ""
    assert "must start with AmazonCloudWatch-" in presets.parameter_problem("my-agent-config")
    assert "letters, digits" in presets.parameter_problem("AmazonCloudWatch-a b")
    with pytest.raises(presets.PresetError, match="Parameter name"):
        presets.setup(["system"], presets.LINUX, "agent")
    setup = presets.setup(["metrics", "system"], presets.LINUX, "AmazonCloudWatch-x")
    assert setup.presets == ("system", "metrics") and setup.metrics and setup.groups == ("/prod/system/messages",)


def test_manage_agent_configures_from_the_parameter_and_restarts() -> None:
    assert presets.manage_parameters("AmazonCloudWatch-x") == {
        "action": ["configure"], "mode": ["ec2"], "optionalConfigurationSource": ["ssm"],
        "optionalConfigurationLocation": ["AmazonCloudWatch-x"], "optionalRestart": ["yes"]}
