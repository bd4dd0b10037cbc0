"""Prefect Automations for live runs: killed runs do not stay Running, and closed trades can notify.

``zombie_runs()`` is the automation Prefect documents for self-hosted servers: a flow run that emitted a
heartbeat (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, set by ``serve.py``) and then nothing else within three
heartbeats is marked Crashed. ``notify_on_close(block_id)`` sends a notification through a notification block
(Slack, e-mail, ...: create one in the UI under Blocks) for every ``btk.position.closed`` event the live flow
emits. ``ensure(...)`` creates an automation unless one of that name exists.

    PREFECT_API_URL=http://127.0.0.1:4200/api python deployments/automations.py [NOTIFICATION_BLOCK_ID]
"""
from __future__ import annotations

import sys
from datetime import timedelta
from uuid import UUID

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

HEARTBEAT_SECONDS = 60


def zombie_runs() -> Automation:
    return Automation(
        name="btk: crash zombie flow runs",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.*"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=3 * HEARTBEAT_SECONDS)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, name=None, force=False,
                                    message="marked Crashed: no heartbeat for three periods (its process died)")])


def notify_on_close(block_document_id: UUID) -> Automation:
    return Automation(
        name="btk: notify on closed positions",
        trigger=EventTrigger(expect={"btk.position.closed"}, match=ResourceSpecification(
            {"prefect.resource.id": "btk.pair.*"}), posture=Posture.Reactive, threshold=1),
        actions=[SendNotification(
            block_document_id=block_document_id, subject="btk: {{ event.resource.name }} closed",
            body="{{ event.resource.name }} closed by {{ event.payload.close_reason }}, "
                 "PnL {{ event.payload.pnl_percentage }} % (signal {{ event.payload.signal_id }})")])


def ensure(automation: Automation) -> Automation:
    """The automation of that name, created when missing (idempotent: serve.py runs this at every start)."""
    try:
        found: Automation = Automation.read(name=automation.name)  # type: ignore[assignment]  # sync context
        return found
    except ValueError:
        created: Automation = automation.create()  # type: ignore[assignment]  # sync context
        return created


if __name__ == "__main__":
    print(ensure(zombie_runs()).name)
    if len(sys.argv) > 1:
        print(ensure(notify_on_close(UUID(sys.argv[1]))).name)
