"""O2O orders in the order feed: only while the counters are open, from the assortment, clean, acked."""

from __future__ import annotations

from helpers_o2o import BY_ID, CATALOG, CFG, CUSTOMS, PART, assortment

from simulators.order_feed import OrderFeed, OrderFeedModel
from wms import topics
from wms.bus.inproc import InProcBroker
from wms.clock import VirtualClock
from wms.domain import OrderBundle
from wms.inspection.rules import BuyerHistory, check_order
from wms.messages import Ack
from wms.o2o.feed import O2OOrderModel, is_open, open_until
from wms.shift import start_time

T8 = start_time(CFG, "2026-11-11T08:00:00")
UTC8 = CFG.site.utc_offset_h


def _model(**kw: object) -> O2OOrderModel:
    return O2OOrderModel(CATALOG, CUSTOMS, [s.sku for s in CATALOG[:60]], ["C1", "C2"], **kw)  # type: ignore[arg-type]


def test_opening_hours() -> None:
    assert not is_open(T8 + 3599, "09:00", "22:00", UTC8) and is_open(T8 + 3600, "09:00", "22:00", UTC8)
    assert open_until(T8, "09:00", "22:00", UTC8) == (T8 + 3600, T8 + 14 * 3600)
    assert open_until(T8 + 15 * 3600, "09:00", "22:00", UTC8) == (T8 + 25 * 3600, T8 + 38 * 3600)
    assert open_until(T8, "10:00", "10:00", UTC8) is None


def test_arrivals_only_while_open_at_the_rate() -> None:
    model, now, times = _model(), T8, []
    while now < T8 + 48 * 3600:
        now += model.interarrival(now, 60.0)  # type: ignore[operator]
        times.append(now)
    assert all(is_open(t, "09:00", "22:00", UTC8) for t in times)
    assert 1300 < len(times) < 1840  # 26 open hours at 60/h: 1560 expected
    never = _model(opens="10:00", closes="09:00")
    assert never.interarrival(T8, 60.0) is None


def test_o2o_orders_are_clean_and_from_the_assortment() -> None:
    model, history = _model(), BuyerHistory.for_customs(CUSTOMS, UTC8)
    allowed = set(assortment())
    now = T8 + 3600
    for _ in range(300):
        now += 60
        b = model.next_bundle(now)
        assert b.order.order_type == "o2o" and b.waybill is not None and b.waybill.route in ("C1", "C2")
        assert {ln.sku for ln in b.order.lines} <= allowed
        assert check_order(b.order, b.payment, b.waybill, BY_ID, CUSTOMS, history, now) == []
        history.record_order(b.order, now)
        history.record_release(b.order, now)


def _feed(clock: VirtualClock, broker: InProcBroker, **kw: object) -> OrderFeed:
    model = OrderFeedModel(CATALOG, CFG.carriers, CFG.feed, CUSTOMS, 7)
    return OrderFeed(broker.client("feed"), clock, PART, model, 600.0, until=clock.now() + 4 * 3600, **kw)  # type: ignore[arg-type]


def _run(
    o2o_per_hour: float, hours: float = 4.0, ack_o2o_after: int = 1
) -> tuple[list[OrderBundle], list[float], OrderFeed]:
    """From 08:00 for ``hours``, orders acked (O2O ones on delivery ``ack_o2o_after``): bundles, times."""
    clock = VirtualClock(T8)
    broker = InProcBroker(clock)
    sent: list[OrderBundle] = []
    times: list[float] = []
    ctl = broker.client("controller")

    def on_order(_topic: str, data: bytes) -> None:
        b = OrderBundle.model_validate_json(data)
        sent.append(b)
        times.append(clock.now())
        o2o = b.order.order_type == "o2o"
        if not o2o or sum(x.order.order_no == b.order.order_no for x in sent) >= ack_o2o_after:
            ctl.publish(topics.acks(PART), Ack(kind="order", ref=b.order.order_no), qos=1)

    ctl.subscribe(topics.orders(PART), on_order)
    model = OrderFeedModel(CATALOG, CFG.carriers, CFG.feed, CUSTOMS, 7)
    feed = OrderFeed(
        broker.client("feed"),
        clock,
        PART,
        model,
        600.0,
        until=T8 + hours * 3600,
        o2o_per_hour=o2o_per_hour,
        o2o_counters=["C1"],
        o2o_skus=assortment(),
    )
    feed.start()
    clock.run(until=T8 + hours * 3600 + 600)
    feed.stop()
    return sent, times, feed


def test_default_feed_sends_no_o2o_and_regular_orders_stay_the_same() -> None:
    plain, _, feed0 = _run(0.0)
    mixed, times, feed = _run(60.0)
    assert feed0.o2o_sent == 0 and all(b.order.order_type == "regular" for b in plain)
    regular = [b for b in mixed if b.order.order_type == "regular"]
    assert regular == plain  # the O2O stream has its own random numbers
    o2o = [(b, t) for b, t in zip(mixed, times, strict=True) if b.order.order_type == "o2o"]
    assert len(o2o) == feed.o2o_sent and 120 < feed.o2o_sent < 250  # 3 open hours at 60/h
    assert all(is_open(t, CFG.o2o.opens, CFG.o2o.closes, UTC8) for _, t in o2o)
    assert feed.sent == len(plain) + feed.o2o_sent and feed.unacked == 0


def test_unacknowledged_o2o_orders_are_sent_again_until_acknowledged() -> None:
    sent, _, feed = _run(120.0, hours=1.5, ack_o2o_after=2)
    o2o = [b.order.order_no for b in sent if b.order.order_type == "o2o"]
    assert o2o and all(o2o.count(no) == 2 for no in set(o2o))  # once more, then acknowledged
    assert feed.resent == len(set(o2o)) and feed.unacked == 0
