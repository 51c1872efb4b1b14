"""The beat schedule, entry by entry, against the seed's table (ARCHITECTURE section 6).

Entries whose tasks do not exist yet are listed in EXPECTED_MISSING: the test fails as
soon as one of them appears (remove it from the list) or one that exists disappears.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.schedules import crontab

from app.celery_app import make_celery
from tests.conftest import test_config

HOURLY = crontab(minute=0)


def daily(hour: int) -> crontab:
    return crontab(minute=0, hour=hour)


def weekly(day: str) -> crontab:
    return crontab(minute=0, hour=1, day_of_week=day)


# entry name → (task module, schedule), transcribed from ARCHITECTURE section 6.
SEED_SCHEDULE = {
    "monitor_active_sessions": ("session_monitoring_tasks", timedelta(seconds=30)),
    "cleanup_expired_sessions": ("cleanup_tasks", HOURLY),
    "run_threat_detections": ("threat_prediction_tasks", HOURLY),
    "check_blockchain_health": ("blockchain_tasks", HOURLY),
    "check_policy_health": ("policy_tasks", HOURLY),
    "generate_threat_predictions": ("threat_prediction_tasks", timedelta(hours=6)),
    "cleanup_cache": ("cleanup_tasks", timedelta(hours=6)),
    "train_behavioral_models": ("ml_tasks", daily(2)),
    "optimize_policies": ("policy_tasks", daily(3)),
    "calculate_prediction_accuracy": ("threat_prediction_tasks", daily(4)),
    "cleanup_old_notifications": ("cleanup_tasks", daily(5)),
    "generate_system_health_report": ("cleanup_tasks", daily(6)),
    "update_threat_models": ("ml_tasks", weekly("sun")),
    "cleanup_old_behavioral_data": ("cleanup_tasks", weekly("mon")),
    "cleanup_old_threat_predictions": ("cleanup_tasks", weekly("tue")),
    "cleanup_old_models": ("ml_tasks", weekly("wed")),
    "cleanup_old_blockchain_records": (
        "blockchain_tasks",
        crontab(minute=0, hour=2, day_of_month=1),
    ),
    "sync_audit_trail": ("blockchain_tasks", timedelta(minutes=1)),
}
# Built by later issues; each leaves this set when its task module lands.
EXPECTED_MISSING = {
    "monitor_active_sessions",
    "run_threat_detections",
    "check_policy_health",
    "generate_threat_predictions",
    "train_behavioral_models",
    "optimize_policies",
    "calculate_prediction_accuracy",
    "update_threat_models",
    "cleanup_old_models",
}


@pytest.fixture(scope="module")
def schedule() -> dict:
    return make_celery(test_config(CELERY_BROKER_URL="memory://")).conf.beat_schedule


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, timedelta):
        run_every = getattr(actual, "run_every", actual)
        return run_every == expected
    assert isinstance(expected, crontab) and isinstance(actual, crontab), actual
    return (
        actual.minute == expected.minute
        and actual.hour == expected.hour
        and actual.day_of_week == expected.day_of_week
        and actual.day_of_month == expected.day_of_month
        and actual.month_of_year == expected.month_of_year
    )


@pytest.mark.parametrize("entry", sorted(SEED_SCHEDULE))
def test_seed_entry(schedule: dict, entry: str) -> None:
    module, expected = SEED_SCHEDULE[entry]
    if entry in EXPECTED_MISSING:
        assert entry not in schedule, f"{entry} exists now: remove it from EXPECTED_MISSING"
        return
    assert entry in schedule, f"beat entry {entry} is missing"
    assert schedule[entry]["task"] == f"app.tasks.{module}.{entry}"
    assert _same(schedule[entry]["schedule"], expected), schedule[entry]["schedule"]


def test_no_entries_beyond_the_seed(schedule: dict) -> None:
    assert set(schedule) <= set(SEED_SCHEDULE)


def test_every_scheduled_task_is_registered() -> None:
    celery = make_celery(test_config(CELERY_BROKER_URL="memory://"))
    for entry in celery.conf.beat_schedule.values():
        assert entry["task"] in celery.tasks
