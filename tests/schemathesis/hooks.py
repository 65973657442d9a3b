"""Schemathesis hooks: requests act for a real user with a real token,
recurrence rules are generated valid, and reminder times lie in the future.

`run.py` signs the user up and creates tasks, tags and reminders before
Schemathesis starts, passes them in `TASKSTREAM_FIXTURE` (a JSON file), and
binds most generated path parameters to their ids in the run's config file.
"""

import datetime
import json
import os
import urllib.request

import schemathesis
from hypothesis import strategies as st

with open(os.environ["TASKSTREAM_FIXTURE"], encoding="utf-8") as f:
    FIXTURE = json.load(f)

# `format: rrule` (recurrence rules) is ours: valid rules to generate.
schemathesis.openapi.format(
    "rrule",
    st.one_of(
        st.sampled_from(["daily", "weekly", "monthly", "yearly", "weekdays", "Weekly"]),
        st.builds(
            "FREQ={};INTERVAL={}".format,
            st.sampled_from(["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
            st.integers(1, 30),
        ),
        st.builds(
            "FREQ=WEEKLY;BYDAY={}".format,
            st.lists(
                st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]),
                min_size=1,
                max_size=7,
                unique=True,
            ).map(",".join),
        ),
        st.builds("RRULE:FREQ=DAILY;COUNT={}".format, st.integers(1, 50)),
    ),
)

# `format: quick-add` (POST …/tasks/quick-add) is ours: a line whose title is
# not empty once dates, times, tags and the other parts are read out of it.
# Titles stay words the grammar does not know; the parts are any of its own.
schemathesis.openapi.format(
    "quick-add",
    st.builds(
        lambda title, parts: " ".join([title, *parts]),
        st.text(alphabet="bcdfghjklqvxz", min_size=1, max_size=20),
        st.lists(
            st.sampled_from(
                [
                    "tomorrow", "next monday", "in 3 days", "on Dec 3", "2027-02-28",
                    "at 5pm", "10:30", "noon", "every weekday", "every 2 weeks",
                    "every! 3 days", "until Dec 31", "for 5 times", "p1", "!3",
                    "high priority", "#work", "@home", "remind me 30 min before",
                    "remind me at 9am", '"kept as written"', "Feb 30",
                ]
            ),
            max_size=5,
        ),
    ),
)

# `format: webhook-url` is ours: an http(s) URL of a public host (internal
# addresses are refused, which a pattern cannot say). Nothing listens there:
# deliveries fail and are retried in the background, as for any dead receiver.
schemathesis.openapi.format(
    "webhook-url",
    st.builds(
        "{}://hooks.example.com/{}".format,
        st.sampled_from(["http", "https"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/", max_size=30),
    ),
)

# Operations that end the presented token get a token of their own each
# time, so that the run's main token stays valid.
SESSION_ENDING = {"/api/auth/logout", "/api/auth/logout-all"}


def _fresh_token() -> str:
    body = json.dumps(
        {"email": FIXTURE["throwaway_email"], "password": FIXTURE["password"]}
    ).encode()
    request = urllib.request.Request(
        FIXTURE["base_url"] + "/api/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["token"]


@schemathesis.auth()
class BearerToken:
    """The run's user's token on every request (schemathesis leaves it off
    to check that secured operations refuse anonymous callers). Operations
    that end the presented token get a fresh token each time, so that the
    run's own token stays valid."""

    def get(self, case, context):
        return FIXTURE["token"]

    def set(self, case, data, context):
        token = _fresh_token() if case.operation.path in SESSION_ENDING else data
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = "Bearer " + token


def _in_the_past(value) -> bool:
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (AttributeError, ValueError):
        return False
    if when.tzinfo is None:
        return False
    return when <= datetime.datetime.now(datetime.timezone.utc)


@schemathesis.hook
def map_case(context, case):
    """A reminder must be in the future, which a schema cannot say: a valid
    reminder time that has passed is moved to tomorrow (valid cases only)."""
    meta = getattr(case, "meta", None)
    positive = meta is not None and meta.generation.mode.is_positive
    if (
        positive
        and case.operation.path.endswith("/reminder")
        and isinstance(case.body, dict)
        and _in_the_past(case.body.get("remind_at"))
    ):
        tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        case.body["remind_at"] = tomorrow.strftime("%Y-%m-%dT%H:%M:%SZ")
    return case
