"""Monitoring seed for the default scenario and the scripted incident.

Seeded (default scenario, ap-northeast-1; technique A, straight into moto's backends after the server is up):

* SNS topic ``ops-alerts`` with two subscriptions: email ``oncall@example.com`` (confirmed at seeding, as if
  its owner had clicked the link long ago; deliveries land in the outbox) and http ``http://127.0.0.1:<port>/_opstui/sns-inbox/<secret>`` -- the sandbox's own loopback receiver, so
  the demo shows a real http delivery without another server (the secret path keeps web pages from posting).
* Alarms (all with AlarmActions and OKActions -> ``ops-alerts``):

  - ``prod-web-01 high CPU`` / ``prod-web-02 high CPU``: AWS/EC2 CPUUtilization Average > 80 for 3 of 3
    five-minute periods;
  - ``prod-db-01 status check failed`` / ``prod-db-02 status check failed``: StatusCheckFailed Maximum >= 1 for
    1 of 1 five-minute period;
  - ``prod-batch-01 high CPU``: CPUUtilization Average > 50 for 2 of 3 periods -- the nightly batch window
    (01:00-03:00 JST) crosses it, so it has real history (replayed over the last 24 h at start-up, no actions);
  - ``storefront-heartbeat SuccessPercent < 90``: CloudWatchSynthetics SuccessPercent (CanaryName
    storefront-heartbeat) Average < 90 for 1 of 1 five-minute period, missing data treated as missing.

The CloudWatch agent runs at start only on the prod web and app nodes (:mod:`.cw_agent_seed`); on the others
CWAgent metrics appear once it is installed and configured through Run Command.

The scripted incident (``prod-web-02``): its CPU climbs to ~96 % over 4 minutes (a metric overlay) and the
storefront web app turns ``slow`` (helper M2's :func:`opstui.sandbox.webapp.set_health`), so its alarm fires
after three breaching five-minute periods, SNS notifies (email outbox + the http inbox), the canary fails; after
``duration`` the overlay ramps down, the web app's previous health comes back and the alarm returns to OK.

* Live mode (``opstui --demo``): first incident 3 sandbox minutes after start-up, 25 minutes long, then every
  90 minutes.
* ``POST /_opstui/incident {"action": "start", "elapsed": 1200, "duration": 1500}``: start now (``elapsed``
  backdates the start, so the alarm can be in ALARM at the next evaluation -- for screenshots and tests);
  ``{"action": "stop"}`` ends it now. ``GET /_opstui/incident`` -> status.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING, Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.ec2.models import ec2_backends
from moto.sns.models import sns_backends

from . import alarms, clock, metrics, sns_delivery
from .ec2_fast import instance_index
from .extension import Extension
from .scenarios import PRIMARY, Scenario

if TYPE_CHECKING:
    from .server import Sandbox

TOPIC = "ops-alerts"
EMAIL = "oncall@example.com"
INCIDENT_NODE = "prod-web-02"
FIRST_DELAY = 180.0
DURATION = 1500.0
REPEAT = 5400.0


def _instance_by_name(scenario: Scenario, name: str) -> str | None:
    return next((n.instance_id for n in scenario.nodes if n.tags.get("Name") == name), None)


def seed(scenario: Scenario, inbox_url: str) -> dict[str, Any]:
    """Create the topic, subscriptions and alarms of the default scenario; replay 24 h of history."""
    if scenario.name != "default":
        return {}
    account, region = scenario.account_id, PRIMARY
    sns = sns_backends[account][region]
    topic = sns.create_topic(TOPIC)
    # confirmed by a person long ago: no confirmation mail at start, and the demo's alarm mail is delivered
    sns_delivery.subscribe_confirmed(sns, topic.arn, EMAIL, "email")
    sns.subscribe(topic.arn, inbox_url, "http")
    backend = cloudwatch_backends[account][region]
    index = instance_index(ec2_backends[account][region])
    created: list[str] = []

    def cpu(name: str, threshold: float, n: int, m: int) -> None:
        iid = _instance_by_name(scenario, name)
        if iid is None or iid not in index:
            return
        alarm_name = f"{name} high CPU"
        backend.put_metric_alarm(
            name=alarm_name, namespace="AWS/EC2", metric_name="CPUUtilization",
            comparison_operator="GreaterThanThreshold", evaluation_periods=n, datapoints_to_alarm=m, period=300,
            threshold=threshold, statistic="Average",
            description=f"CPU of {name} above {threshold:g}% for {m} of {n} five-minute periods",
            dimensions=[{"Name": "InstanceId", "Value": iid}], alarm_actions=[topic.arn], ok_actions=[topic.arn],
            unit=None, treat_missing_data="missing")
        created.append(alarm_name)

    def status(name: str) -> None:
        iid = _instance_by_name(scenario, name)
        if iid is None or iid not in index:
            return
        alarm_name = f"{name} status check failed"
        backend.put_metric_alarm(
            name=alarm_name, namespace="AWS/EC2", metric_name="StatusCheckFailed",
            comparison_operator="GreaterThanOrEqualToThreshold", evaluation_periods=1, datapoints_to_alarm=1,
            period=300, threshold=1.0, statistic="Maximum", description=f"EC2 status checks of {name}",
            dimensions=[{"Name": "InstanceId", "Value": iid}], alarm_actions=[topic.arn], ok_actions=[topic.arn],
            treat_missing_data="missing")
        created.append(alarm_name)

    cpu("prod-web-01", 80.0, 3, 3)
    cpu(INCIDENT_NODE, 80.0, 3, 3)
    status("prod-db-01")
    status("prod-db-02")
    cpu("prod-batch-01", 50.0, 3, 2)
    canary_alarm = "storefront-heartbeat SuccessPercent < 90"
    backend.put_metric_alarm(
        name=canary_alarm, namespace="CloudWatchSynthetics", metric_name="SuccessPercent",
        comparison_operator="LessThanThreshold", evaluation_periods=1, datapoints_to_alarm=1, period=300,
        threshold=90.0, statistic="Average", description="Storefront heartbeat canary success rate",
        dimensions=[{"Name": "CanaryName", "Value": "storefront-heartbeat"}], alarm_actions=[topic.arn],
        ok_actions=[topic.arn], treat_missing_data="missing")
    created.append(canary_alarm)
    # History: as if the alarms had existed for a day (created a day ago, evaluated every period since).
    now = clock.now()
    since = now - dt.timedelta(hours=24)
    for name in created:
        alarm = backend.alarms[name]
        alarms.rewrite_creation(account, region, alarm, since)
        if alarm.namespace == "AWS/EC2":
            alarms.backfill(account, region, alarm, since, now)
    return {"topic": topic.arn, "alarms": created}


class Incident:
    """The scripted incident on ``prod-web-02`` (see the module docstring)."""

    def __init__(self, scenario: Scenario, live: bool) -> None:
        self.scenario = scenario
        self.live = live
        self.account = scenario.account_id
        self.region = PRIMARY
        self.instance_id = _instance_by_name(scenario, INCIDENT_NODE) if scenario.name == "default" else None
        self.active = False
        self.started: dt.datetime | None = None
        self.ends: dt.datetime | None = None
        self.count = 0
        self._overlays: list[metrics.Overlay] = []
        self._saved_health: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next: dt.datetime | None = None

    # -- control ------------------------------------------------------------------------------------------

    def start(self, elapsed: float = 0.0, duration: float = DURATION) -> dict[str, Any]:
        if self.instance_id is None:
            raise ValueError("the scripted incident needs the default scenario (prod-web-02)")
        if elapsed < 0 or duration <= 0:
            raise ValueError("elapsed must be >= 0 and duration > 0")
        with self._lock:
            if self.active:
                self._end_locked()
            now = clock.now()
            begin = now - dt.timedelta(seconds=elapsed)
            t0 = begin.timestamp()
            self._overlays = [
                metrics.add_overlay(metrics.Overlay(self.account, self.region, self.instance_id, "CPUUtilization",
                                                    start=t0, peak=96.0, ramp=240.0, end=t0 + duration)),
                metrics.add_overlay(metrics.Overlay(self.account, self.region, self.instance_id, "NetworkOut",
                                                    start=t0, peak=6.0e8, ramp=240.0, end=t0 + duration)),
            ]
            self.active = True
            self.started = begin
            self.ends = begin + dt.timedelta(seconds=duration)
            self.count += 1
            self._set_webapp("slow")
        alarms.wake()
        return self.status()

    def stop(self) -> dict[str, Any]:
        with self._lock:
            if self.active:
                self._end_locked()
        alarms.wake()
        return self.status()

    def _end_locked(self) -> None:
        at = clock.now().timestamp()
        for ov in self._overlays:
            if ov.end is None or ov.end > at:
                ov.end = at
        self.active = False
        self.ends = clock.now()
        self._restore_webapp()

    def _set_webapp(self, health: str) -> None:
        try:
            from . import webapp

            app = webapp.current()
            self._saved_health = getattr(app, "mode", None)
            webapp.set_health(health)
        except Exception:  # the web app is optional (another helper's module; not running in every sandbox)
            self._saved_health = None

    def _restore_webapp(self) -> None:
        try:
            from . import webapp

            webapp.set_health(self._saved_health or ("auto" if self.live else "ok"))
        except Exception:  # see _set_webapp
            return

    def status(self) -> dict[str, Any]:
        def iso(when: dt.datetime | None) -> str | None:
            return when.isoformat().replace("+00:00", "Z") if when else None

        return {"active": self.active, "node": INCIDENT_NODE, "instance_id": self.instance_id,
                "started": iso(self.started), "ends": iso(self.ends), "count": self.count,
                "next": iso(self._next) if self.live else None}

    # -- live mode ----------------------------------------------------------------------------------------

    def run(self) -> None:
        if not self.live or self.instance_id is None:
            return
        self._next = clock.now() + dt.timedelta(seconds=FIRST_DELAY)
        self._thread = threading.Thread(target=self._loop, name="opstui-sandbox-incident", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            clock.wait(min(5.0, max(0.2, clock.real_seconds(30))))
            if self._stop.is_set():
                return
            now = clock.now()
            try:
                if self.active and self.ends is not None and now >= self.ends:
                    self.stop()
                    self._next = now + dt.timedelta(seconds=REPEAT - DURATION)
                elif not self.active and self._next is not None and now >= self._next:
                    self.start()
                    self._next = None
            except Exception:
                continue

    def shutdown(self) -> None:
        self._stop.set()
        clock.wake()  # the loop sleeps in clock.wait (up to 5 s): without this, stopping waited it out
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            if self.active:
                self._end_locked()


# ------------------------------------------------------------------------------------------------------------
# the extension

_current: Incident | None = None


class Incidents(Extension):
    """The monitoring seed and the scripted incident of a run (after the web app in start order: the incident
    turns the storefront slow, and gives it its health back when it stops).

    Control: ``GET /_opstui/incident`` -> status; ``POST {"action": "start", "elapsed": s, "duration": s}``
    starts it now, ``{"action": "stop"}`` ends it now.
    """

    name = "incident"

    def start(self, sandbox: Sandbox) -> None:
        """Seed topic + alarms, start the alarm evaluator and (live) the incident schedule."""
        global _current
        scenario = sandbox.scenario_data
        if scenario is None:  # never: a Sandbox starts its extensions once its scenario is seeded
            return
        seed(scenario, sandbox.inbox_url)
        alarms.activate()
        _current = Incident(scenario, sandbox.live)
        _current.run()

    def stop(self, sandbox: Sandbox) -> None:
        global _current
        if _current is not None:
            _current.shutdown()
            _current = None
        alarms.shutdown()

    def control_snapshot(self) -> dict[str, Any]:
        return _current.status() if _current else {"active": False}

    def configure(self, **payload: Any) -> dict[str, Any]:
        if _current is None:
            raise ValueError("no sandbox running")
        action = payload.get("action")
        if action == "start":
            return _current.start(elapsed=float(payload.get("elapsed", 0)),
                                  duration=float(payload.get("duration", DURATION)))
        if action == "stop":
            return _current.stop()
        raise ValueError('action must be "start" or "stop"')


EXTENSION = Incidents()


def receive_inbox(environ: dict[str, Any]) -> dict[str, Any]:
    """``POST /_opstui/sns-inbox/<secret>``: the built-in loopback http subscriber (any body, JSON or not)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
               if k.startswith("HTTP_X_AMZ_SNS") or k == "HTTP_USER_AGENT"}
    headers["content-type"] = environ.get("CONTENT_TYPE", "")
    sns_delivery.receive(headers, body)
    return {"ok": True}
