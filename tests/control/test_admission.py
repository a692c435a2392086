"""Admission: hysteresis on the backlog, the retained intake signal, and the order feed honouring it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from simulators.order_feed import OrderFeed, OrderFeedModel
from wms import topics
from wms.bus.inproc import InProcBroker
from wms.catalog import generate_catalog
from wms.clock import VirtualClock
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.control.admission import BACKLOG_STATES, Admission, IntakeSignal, backlog
from wms.domain import TERMINAL_STATES, OrderBundle, ParcelState
from wms.messages import Ack

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
CATALOG = generate_catalog(WAREHOUSE.feed, CUSTOMS)
T0 = datetime(2026, 11, 11, 9, 0, tzinfo=timezone(timedelta(hours=8))).timestamp()
PART = "zz1"


def test_hysteresis_closes_at_limit_and_reopens_below_resume() -> None:
    adm = Admission(limit=100, resume_below=80)
    flips = [(b, adm.update(b), adm.accepting) for b in (0, 50, 99, 100, 120, 99, 80, 79, 90, 99, 100)]
    assert flips == [
        (0, False, True),
        (50, False, True),
        (99, False, True),
        (100, True, False),  # closes at the limit
        (120, False, False),
        (99, False, False),  # stays closed between resume_below and the limit
        (80, False, False),
        (79, True, True),  # reopens below resume_below
        (90, False, True),
        (99, False, True),
        (100, True, False),
    ]
    assert adm.closed_times == 2


@pytest.mark.parametrize(("limit", "resume"), [(0, 1), (10, 0), (10, 11)])
def test_bad_limits_are_refused(limit: int, resume: int) -> None:
    with pytest.raises(ValueError):
        Admission(limit, resume)


def test_negative_backlog_is_refused() -> None:
    with pytest.raises(ValueError):
        Admission(10, 5).update(-1)


def test_for_rate_sizes_the_limit_in_minutes_of_orders() -> None:
    adm = Admission.for_rate(1800, minutes=20)
    assert (adm.limit, adm.resume_below) == (600, 480)
    assert Admission.for_rate(1, minutes=1).limit == 1


def test_signal_says_accepting_backlog_and_reason_and_round_trips() -> None:
    adm = Admission(10, 8)
    assert "accepting" in adm.signal(PART, T0).reason
    adm.update(12)
    sig = adm.signal(PART, T0 + 5)
    assert (sig.accepting, sig.backlog, sig.limit, sig.resume_below, sig.partition) == (
        False,
        12,
        10,
        8,
        PART,
    )
    assert "closed" in sig.reason and "12" in sig.reason and "10" in sig.reason
    assert IntakeSignal.model_validate_json(sig.model_dump_json()) == sig
    adm.update(7)
    assert "reopened" in adm.signal(PART, T0 + 9).reason
    with pytest.raises(ValidationError):
        IntakeSignal.model_validate({**sig.model_dump(), "surprise": 1})  # strict: typos never pass


def test_backlog_counts_open_parcels_not_yet_released() -> None:
    assert ParcelState.RELEASED not in BACKLOG_STATES
    assert not BACKLOG_STATES & TERMINAL_STATES
    counts = {ParcelState.WAVED: 3, ParcelState.RELEASED: 5, ParcelState.DISPATCHED: 7}
    counts[ParcelState.INSPECTING] = 1
    assert backlog(counts) == 4
    assert backlog(dict.fromkeys(ParcelState, 1)) == len(ParcelState) - len(TERMINAL_STATES) - 1


# ------------------------------------------------------------------------------ the feed honours it


class Site:
    """A feed and an acknowledging listener on the in-process bus, and the controller's intake signal."""

    def __init__(self, rate_per_h: float = 600.0, hours: float = 1.0, feed: bool = True) -> None:
        self.clock = VirtualClock(T0)
        self.broker = InProcBroker(self.clock)
        self.received: list[tuple[float, str]] = []
        self.ctl = self.broker.client("controller")
        self.ctl.subscribe(topics.orders(PART), self._on_order)
        self.rate_per_h = rate_per_h
        self.until = T0 + hours * 3600
        self.adm = Admission(10, 5)
        if feed:
            self.connect_feed()

    def connect_feed(self) -> None:
        """The order feed connects (and subscribes to acks and the intake signal)."""
        model = OrderFeedModel(CATALOG, WAREHOUSE.carriers, WAREHOUSE.feed, CUSTOMS, 5)
        self.feed = OrderFeed(
            self.broker.client("feed"), self.clock, PART, model, self.rate_per_h, until=self.until
        )

    def _on_order(self, _topic: str, data: bytes) -> None:
        no = OrderBundle.model_validate_json(data).order.order_no
        self.received.append((self.clock.now(), no))
        self.ctl.publish(topics.acks(PART), Ack(kind="order", ref=no))

    def intake(self, backlog: int) -> None:
        """The controller's side: update the admission and publish the signal retained on a change."""
        if self.adm.update(backlog):
            self.ctl.publish(topics.intake(PART), self.adm.signal(PART, self.clock.now()), qos=1, retain=True)

    def run(self, minutes: float) -> None:
        self.clock.run(until=self.clock.now() + 60 * minutes)


def _seq(order_no: str) -> int:
    return int(order_no[-8:])


def test_feed_holds_orders_while_closed_and_sends_them_all_in_order_when_reopened() -> None:
    site = Site()
    site.feed.start()
    site.run(10)
    before = len(site.received)
    assert before == site.feed.sent > 50 and site.feed.holding == 0 and site.feed.accepting
    site.intake(50)  # backlog over the limit: intake closes
    site.run(10)
    closed_at = site.clock.now()
    assert not site.feed.accepting
    assert len(site.received) == before  # nothing new went out
    assert site.feed.holding == site.feed.held_back > 50  # ... but every new order is kept
    assert site.feed.sent + site.feed.holding == before + site.feed.held_back
    site.intake(3)  # backlog fell below resume_below: intake reopens
    site.run(50)
    assert site.clock.now() > site.until
    assert site.feed.holding == 0 and site.feed.unacked == 0
    assert len(site.received) == site.feed.sent >= before + site.feed.held_back
    nos = [no for _, no in site.received]
    assert len(set(nos)) == len(nos)
    assert nos == sorted(nos, key=_seq)  # held orders went out oldest first, before newer ones
    assert [_seq(no) for no in nos] == list(range(1, len(nos) + 1))  # none missing
    assert all(t >= closed_at for t, no in site.received[before:])


def test_held_orders_go_out_after_the_feed_period_ends() -> None:
    site = Site(rate_per_h=1200, hours=0.25)
    site.feed.start()
    site.run(2)
    site.intake(10)
    site.run(20)  # past `until`: no new orders now, but the held ones still wait
    held = site.feed.holding
    assert held > 100 and site.feed.sent == len(site.received)
    site.intake(0)
    site.run(60)
    assert site.feed.holding == 0 and len(site.received) == site.feed.sent
    assert site.feed.held_back == held


def test_feed_starts_closed_from_a_retained_signal_and_ignores_malformed_ones() -> None:
    site = Site(feed=False)
    site.intake(10)  # closed before the feed even connects: the retained signal tells it
    site.clock.run(until=T0 + 1)
    site.connect_feed()
    site.ctl.publish(topics.intake(PART), b"{not json", qos=1)
    site.ctl.publish(topics.intake(PART), {"accepting": True}, qos=1)  # invalid: missing fields
    site.feed.start()
    site.run(10)
    assert site.received == [] and site.feed.holding > 0 and not site.feed.accepting
    assert site.feed.intake_signals == 1
    site.intake(0)
    site.run(120)
    assert site.feed.holding == 0 and len(site.received) == site.feed.sent >= site.feed.held_back > 0


def test_stop_keeps_held_orders_and_start_sends_them() -> None:
    site = Site()
    site.intake(10)
    site.feed.start()
    site.run(5)
    site.feed.stop()
    site.intake(0)
    site.run(5)
    assert site.feed.holding > 0  # stopped: nothing goes out, nothing is thrown away
    held = site.feed.holding
    sent = site.feed.sent
    site.feed.start()
    site.run(30)
    assert site.feed.sent >= sent + held and site.feed.holding == 0
