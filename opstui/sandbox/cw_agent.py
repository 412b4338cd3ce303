"""The simulated CloudWatch agent: what it knows about its node, and ``configure`` as ``amazon-cloudwatch-agent-ctl``.

Why apart from :mod:`.cw_agent_config`: that module is the agent's configuration language (no moto, no
state); this one reads the sandbox (the node registry, EC2, Parameter Store) to apply it. The log shipping
itself lives in :mod:`.cw_agent_logs`, the metrics in :mod:`.metrics`; both read the configuration
:func:`configure` stores in :mod:`.node_state`.

``configure`` follows ``amazon-cloudwatch-agent-ctl -a fetch-config`` (``packaging/dependencies/
amazon-cloudwatch-agent-ctl``, ``tool/downloader/downloader.go``, ``tool/translator/translator.go`` in
github.com/aws/amazon-cloudwatch-agent):

* ``ssm:<name>``: ``GetParameter(Name, WithDecryption=true)`` in the node's region; a missing parameter fails
  with ``fail to fetch/remove json config: error in retrieving parameter store content: ParameterNotFound: ``;
  an empty name with ``downloadLocation ssm: is malformed``-like wording is the sandbox's choice of the same.
* then the translator's validation (:func:`.cw_agent_config.parse`); failures print its lines and exit 1.

The real ctl script runs the downloader and translator inside ``$(...)`` under ``set -e``, so their stdout is
lost when they fail; the sandbox prints their error lines on stderr instead, so an operator sees why.
"""

from __future__ import annotations

from dataclasses import dataclass

from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends

from .cw_agent_config import AgentConfig, AgentConfigError, NodeFacts, default_config, parse
from .ec2_fast import instance_index
from .ssm_nodes import REGISTRY


def node_facts(account: str, region: str, instance_id: str) -> NodeFacts:
    """What the agent on ``instance_id`` reads from instance metadata and its OS."""
    node = REGISTRY.get(account, region, instance_id)
    instance = None
    if not instance_id.startswith("mi-"):
        try:
            instance = instance_index(ec2_backends[account][region]).get(instance_id)
        except KeyError:
            instance = None
    platform = (node.platform_name if node else "") or ""
    return NodeFacts(
        instance_id=instance_id,
        hostname=(node.computer_name if node else None) or instance_id,
        ip_address=(node.ip_address if node else None) or (getattr(instance, "private_ip", "") or ""),
        region=region, account_id=account, platform_name=platform,
        windows="Windows" in platform or (node is not None and node.platform_type == "Windows"),
        hybrid=instance_id.startswith("mi-"),
        image_id=str(getattr(instance, "image_id", "") or ""),
        instance_type=str(getattr(instance, "instance_type", "") or ""))


@dataclass
class ConfigureResult:
    """What ``configure`` printed and whether it succeeded (then ``config`` is what the agent now runs)."""

    stdout: str
    stderr: str
    config: AgentConfig | None

    @property
    def ok(self) -> bool:
        return self.config is not None


def configure(account: str, region: str, instance_id: str, source: str, location: str) -> ConfigureResult:
    """Fetch and validate the configuration named by ``source``/``location`` for the node (no state changed)."""
    facts = node_facts(account, region, instance_id)
    head = "****** processing amazon-cloudwatch-agent ******\n"
    if source == "default":
        text = None
        label = "default"
    elif source == "ssm":
        label = f"ssm_{location}"
        if not location:
            return ConfigureResult(head, "downloadLocation ssm: is malformed\n", None)
        backend = ssm_backends[account][region]
        try:
            parameter = backend.get_parameter(location)
        except Exception as exc:  # ParameterVersionNotFound and the like
            parameter = None
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "ParameterNotFound: "
        if parameter is None:
            return ConfigureResult(head, "fail to fetch/remove json config: error in retrieving parameter store "
                                         f"content: {reason}\n\tstatus code: 400\n", None)
        text = str(parameter.value)
    else:
        return ConfigureResult(head, f"location type {source} is not supported\n", None)
    fetched = (f"Successfully fetched the config and saved in /opt/aws/amazon-cloudwatch-agent/etc/"
               f"amazon-cloudwatch-agent.d/{label}.tmp\n")
    out = head + fetched + "Start configuration validation...\n"
    if text is None:
        config = default_config(facts.windows)
    else:
        try:
            config = parse(text, f"ssm:{location}")
        except AgentConfigError as exc:
            return ConfigureResult(out, "".join(line + "\n" for line in exc.lines), None)
    out += ("Configuration validation first phase succeeded\n"
            "Configuration validation second phase succeeded\nConfiguration validation succeeded\n")
    return ConfigureResult(out, "", config)
