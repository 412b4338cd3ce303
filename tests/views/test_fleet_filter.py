"""The `/` filter language, on plain FleetNode values."""

from opstui.aws.models import FleetNode
from opstui.views.fleet import filter as fleet_filter


def node(name, *, ping="Online", state="running", region="ap-northeast-1", tags=(), outdated=False, iid=None):
    return FleetNode(
        instance_id=iid or f"i-{abs(hash(name)) % 10**17:017d}",
        region=region,
        name=name,
        ping_status=ping,
        platform="Ubuntu 22.04",
        agent_version="3.3.1142.0",
        agent_outdated=outdated,
        ip="10.0.0.1",
        ec2_state=state,
        instance_type="t3.micro",
        availability_zone=region + "a",
        last_ping=None,
        tags=(("Name", name), *tags),
    )


NODES = [
    node("prod-web-01", tags=(("Role", "web"), ("Env", "prod"))),
    node("prod-db-01", tags=(("Role", "db"), ("Env", "prod")), ping="ConnectionLost"),
    node("stg-web-01", tags=(("Role", "web"), ("Env", "stg")), state="stopped", region="ap-northeast-3"),
    node("本番-決済API-01", tags=(("Role", "app"),), outdated=True),
]


def names(query):
    return [NODES[i].name for i in fleet_filter.apply(query, NODES)]


def test_free_text_matches_any_column_or_tag_case_insensitively():
    assert names("WEB") == ["prod-web-01", "stg-web-01"]
    assert names("prod web") == ["prod-web-01"]
    assert names("決済") == ["本番-決済API-01"]


def test_tag_equals_is_exact_and_case_insensitive():
    assert names("tag:Role=web") == ["prod-web-01", "stg-web-01"]
    assert names("tag:role=WE") == []
    assert names("tag:Role=w*") == ["prod-web-01", "stg-web-01"]


def test_tag_without_value_matches_presence():
    assert names("tag:Env") == ["prod-web-01", "prod-db-01", "stg-web-01"]


def test_field_terms():
    assert names("state:stopped") == ["stg-web-01"]
    assert names("ping:ConnectionLost") == ["prod-db-01"]
    assert names("region:ap-northeast-3") == ["stg-web-01"]
    assert names("agent:outdated") == ["本番-決済API-01"]


def test_negation():
    assert names("!ping:Online") == ["prod-db-01"]
    assert names("tag:Role=web !tag:Env=stg") == ["prod-web-01"]
    assert names("!web") == ["prod-db-01", "本番-決済API-01"]


def test_unknown_field_and_unbalanced_quote_are_plain_text_not_errors():
    assert names("foo:bar") == []
    assert names('"prod-web') == ["prod-web-01"]
    assert names("") == [n.name for n in NODES]
