"""Safety behaviour of a real agent node over real DDS (tiny-random model, a 3-function action set).

One node process serves the whole module, in order: it starts with a MISSING model file (error on status,
the node stays up, the stop fast path still works), the file is then written and /octopus/reload_model
brings the model up; then the confirmation path and the stop preemption are exercised.

The tiny model is random but deterministic: which texts it maps to amazon_shopping is found out with
the Query service (whose answers are not gated), and those texts are then sent as commands. So the
confirmation tests prove: when the real model in the real node decides on a confirmation-required
function, the call goes to /octopus/pending and reaches /octopus/action only after Confirm accepts it;
rejected and expired calls never do. They do not prove anything about which function a trained model
picks for "order 50 of these on Amazon" (that is the model's accuracy, measured by `octopus-ros eval`).
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from ros_helpers import REPO, isolated_node, ros_subprocess_env

pytestmark = [pytest.mark.ros]
rclpy = pytest.importorskip("rclpy")

FUNCTIONS = """\
schema_version: 1
no_action: no_action
end_token: "<nexa_end>"
token_format: "<nexa_{index}>"
default_policy: {min_confidence: 0.0, rate_limit: null}
functions:
  - name: stop
    description: Stop all robot motion immediately.
    policy: {stop: true, phrases: [freeze]}
    examples:
      - {lang: en, text: "stop!", arguments: {}}
      - {lang: zh, text: "停下", arguments: {}}
  - name: amazon_shopping
    description: Order a product on Amazon.
    policy: {requires_confirmation: true}
    args:
      - {name: product, type: str, max_length: 8}
      - {name: category, type: str, max_length: 8}
  - name: no_action
    description: Do nothing.
"""
ORDER_TEXTS = [f"order {n} of these on Amazon" for n in (50, 2, 3, 10, 20, 100)] + [
    "buy this on Amazon", "在亚马逊上买这个", "order a phone charger on Amazon", "buy fifty mugs on Amazon",
    "get me 12 batteries from Amazon", "在亚马逊买五十个", "order shoes", "buy a lamp online", "purchase ten books",
    "order more paper towels", "reorder the coffee beans", "buy a new kettle", "get a charger", "order it now"]
TIMEOUT_S = 12.0  # confirmation_timeout_s of the node under test


@pytest.fixture(scope="module")
def node(tmp_path_factory, ros_domain_id):
    tmp = tmp_path_factory.mktemp("safety")
    functions = tmp / "functions.yaml"
    functions.write_text(FUNCTIONS)
    model = tmp / "model.yaml"  # written by test_reload_after_fixing_the_model
    with isolated_node(tmp, "safety", ros_domain_id, "-p", f"model:={model}", "-p", f"functions_file:={functions}",
                       "-p", f"confirmation_timeout_s:={TIMEOUT_S}", expect_state="error",
                       model_timeout=120) as (proc, client):
        yield proc, client, model


def test_missing_model_is_reported_and_stop_still_works(node):
    proc, c, _ = node
    status = next(s for s in reversed(c.statuses) if s.model_state == "error")
    assert status.level == 2 and "model load failed" in status.last_error and "model.yaml" in status.last_error
    rid = c.send("order 50 of these on Amazon")
    assert c.outcome(rid).outcome == "error" and "model not ready" in c.outcome(rid).reason
    rid = c.send("STOP!")
    outcome = c.outcome(rid, timeout=10)
    assert outcome.outcome == "call" and outcome.function_name == "stop" and "fast path" in outcome.reason
    call = c.spin_until(lambda: next((a for a in c.actions if a.request_id == rid), None), 10)
    assert call and call.function_name == "stop" and call.token_id == 0 and call.confidence == 1.0
    assert call.raw_output == "<nexa_0>()<nexa_end>" and call.arguments_json == "{}"
    assert proc.alive()


def test_reload_after_fixing_the_model(node):
    proc, c, model = node
    shutil.copyfile(REPO / "config" / "model" / "tiny-random.yaml", model)
    response = c.call_service(c.reload_client, c.Trigger.Request())
    assert response.success, response.message
    ready = c.status_matching(lambda s: s.message.startswith("model ready"), timeout=300)
    assert ready and ready.model_state == "ready", proc.log()


@pytest.fixture(scope="module")
def order_texts(node):
    """Texts the (random, deterministic) model answers with amazon_shopping, found with the Query service."""
    _, c, _ = node
    found = []
    for text in ORDER_TEXTS:
        response = c.call_query(c.Query.Request(text=text, language=""))
        if response.success and response.call.function_name == "amazon_shopping":
            found.append((text, response.call))
        if len(found) == 2:
            return found
    pytest.fail(f"the tiny model chose amazon_shopping for fewer than 2 of {len(ORDER_TEXTS)} texts: {found}")


def _pending_for(c, rid):
    outcome = c.outcome(rid, codes=("pending", "call", "no_action", "policy", "low_confidence", "error"))
    assert outcome.outcome == "pending", (outcome.outcome, outcome.reason)
    pending = c.spin_until(lambda: next((p for p in c.pending if p.call.request_id == rid), None), 10)
    assert pending and pending.confirmation_id == outcome.confirmation_id
    assert pending.call.function_name == "amazon_shopping" and outcome.function_name == "amazon_shopping"
    assert pending.expires.sec > pending.header.stamp.sec
    return pending


def test_orders_never_reach_the_action_topic_without_confirmation(node, order_texts):
    _, c, _ = node
    text, answer = order_texts[0]
    # reject
    rid = c.send(text)
    pending = _pending_for(c, rid)
    assert pending.call.arguments_json == answer.arguments_json  # the same decision as the Query's
    response = c.call_service(c.confirm_client, c.Confirm.Request(confirmation_id=pending.confirmation_id, accept=False))
    assert response.ok, response.message
    assert c.outcome(rid).outcome == "rejected"
    # confirm, through the CLI
    rid2 = c.send(text)
    pending2 = _pending_for(c, rid2)
    assert pending2.confirmation_id != pending.confirmation_id
    c.spin_until(lambda: False, 1.0)
    assert [a for a in c.actions if a.request_id in (rid, rid2)] == []  # nothing published so far
    cli = subprocess.run([sys.executable, "-m", "octopus_ros.cli", "confirm", pending2.confirmation_id,
                          "--service", "/safety/confirm"], capture_output=True, text=True, env=ros_subprocess_env(),
                         cwd=REPO, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert c.outcome(rid2).outcome == "confirmed"
    action = c.spin_until(lambda: next((a for a in c.actions if a.request_id == rid2), None), 10)
    assert action and (action.function_name, action.arguments_json) == ("amazon_shopping", pending2.call.arguments_json)
    again = c.call_service(c.confirm_client, c.Confirm.Request(confirmation_id=pending2.confirmation_id, accept=True))
    assert not again.ok and "no pending call" in again.message  # exactly once
    # expire
    rid3 = c.send(order_texts[1][0])
    pending3 = _pending_for(c, rid3)
    expired = c.outcome(rid3, timeout=TIMEOUT_S + 10)
    assert expired.outcome == "expired" and expired.confirmation_id == pending3.confirmation_id
    late = c.call_service(c.confirm_client, c.Confirm.Request(confirmation_id=pending3.confirmation_id, accept=True))
    assert not late.ok
    c.spin_until(lambda: False, 1.0)
    assert [a.request_id for a in c.actions if a.function_name == "amazon_shopping"] == [rid2]
    for r, final in ((rid, "rejected"), (rid2, "confirmed"), (rid3, "expired")):
        assert c.outcomes_of(r) == ["pending", final]


def test_stop_jumps_the_queue_and_cancels_what_was_queued(node, order_texts):
    _, c, _ = node
    before = [c.send(order_texts[0][0]) for _ in range(6)]
    stop = c.send("停下")
    outcome = c.outcome(stop, timeout=10)
    assert outcome.outcome == "call" and "fast path" in outcome.reason
    finals = {rid: c.outcome(rid) for rid in before}
    cancelled = [rid for rid, o in finals.items() if o.outcome == "policy" and "cancelled" in o.reason]
    assert cancelled, [(o.outcome, o.reason) for o in finals.values()]  # 6 commands cannot all be done first
    c.spin_until(lambda: False, 1.0)
    order = [a.request_id for a in c.actions]
    assert all(order.index(rid) < order.index(stop) for rid in before if rid in order)  # nothing after the stop
    for rid in before + [stop]:
        codes = c.outcomes_of(rid)
        assert len([x for x in codes if x != "pending"]) <= 1 and codes, (rid, codes)
    for p in [p for p in c.pending if p.call.request_id in before]:  # leave nothing pending behind
        c.call_service(c.confirm_client, c.Confirm.Request(confirmation_id=p.confirmation_id, accept=False))


@pytest.mark.parametrize("cid", ["", "nope", "\x01\x02", "x" * 100000, "' OR 1=1 --", "停"])
def test_malformed_confirmations_are_refused(node, cid):
    proc, c, _ = node
    response = c.call_service(c.confirm_client, c.Confirm.Request(confirmation_id=cid, accept=True))
    assert not response.ok and "no pending call" in response.message
    assert proc.alive()


def test_malformed_commands_each_get_one_error_outcome(node):
    proc, c, _ = node
    # (A NUL cannot be tested here: a ROS string is a C string, so "stop\x00" arrives as "stop".)
    rids = {name: c.send(text, request_id=f"bad-{name}") for name, text in
            {"empty": "", "soh": "stop\x01", "esc": "\x1b[2Jstop", "long": "stop " * 1000}.items()}
    for name, rid in rids.items():
        assert c.outcome(rid).outcome == "error", name
        assert c.outcomes_of(rid) == ["error"]
    assert not [a for a in c.actions if a.request_id in rids.values()]
    assert proc.alive()
