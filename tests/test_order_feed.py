"""Order feed: realistic statistics, consistent documents, daily arrival curve, publishing on the bus."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from simulators.order_feed import DEFECTS, OrderFeed, OrderFeedModel, id_check_digit
from wms import topics
from wms.bus.inproc import InProcBroker
from wms.catalog import generate_catalog, generate_lots
from wms.clock import VirtualClock
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import LotReceipt, OrderBundle, Zone
from wms.inspection.ceb import route_of_address
from wms.inspection.tax import compute_tax
from wms.messages import Ack

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
FEED = WAREHOUSE.feed
CATALOG = generate_catalog(FEED, CUSTOMS)
BY_ID = {s.sku: s for s in CATALOG}
CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 10, 0, 0, tzinfo=CST).timestamp()


def _run(
    n: int, seed: int | None = None
) -> tuple[OrderFeedModel, list[tuple[float, OrderBundle, str | None]]]:
    model = OrderFeedModel(CATALOG, WAREHOUSE.carriers, FEED, CUSTOMS, seed)
    out, now = [], T0
    for _ in range(n):
        now += model.interarrival(now, FEED.orders_per_hour)
        out.append((now, model.next_bundle(now), model.last_defect))
    return model, out


MODEL, RUN = _run(4000)
CLEAN = [b for _, b, d in RUN if d is None]


def test_sku_popularity_is_pareto() -> None:
    lines = Counter(line.sku for b in CLEAN for line in b.order.lines)
    orderable = len(MODEL.orderable)
    top = sum(n for _, n in lines.most_common(orderable // 5))
    assert top / sum(lines.values()) > 0.6
    assert all(BY_ID[s].zone == Zone.BONDED for s in lines)


def test_lines_and_quantities_are_mostly_small() -> None:
    n_lines = Counter(len(b.order.lines) for b in CLEAN)
    assert max(n_lines) <= FEED.max_lines
    assert (n_lines[1] + n_lines[2]) / len(CLEAN) > 0.75
    qty = Counter(line.qty for b in CLEAN for line in b.order.lines)
    assert (qty[1] + qty[2] + qty[3]) / sum(qty.values()) > 0.9
    for b in CLEAN:
        skus = [line.sku for line in b.order.lines]
        assert len(set(skus)) == len(skus)
        single = len(b.order.lines) == 1 and b.order.lines[0].qty == 1
        assert b.order.goods_value_fen <= CUSTOMS.single_limit_fen or single


def test_repeat_buyers_keep_their_identity() -> None:
    buyers: dict[str, tuple[str, str, str, str]] = {}
    repeats = 0
    for b in CLEAN:
        o = b.order
        ident = (o.buyer_name, o.buyer_phone, o.consignee_address, o.buyer_reg_no)
        if o.buyer_id_number in buyers:
            repeats += 1
            assert buyers[o.buyer_id_number] == ident
        buyers[o.buyer_id_number] = ident
        assert re.fullmatch(r"\d{17}[\dX]", o.buyer_id_number)
        assert id_check_digit(o.buyer_id_number[:17]) == o.buyer_id_number[17]
        assert re.fullmatch(r"1\d{10}", o.buyer_phone)
    share = repeats / len(CLEAN)
    assert abs(share - FEED.repeat_buyer_share) < 0.05, share


def test_bad_document_rate_and_defect_kinds() -> None:
    bad = [d for _, _, d in RUN if d is not None]
    rate = len(bad) / len(RUN)
    sigma = (FEED.bad_document_rate * (1 - FEED.bad_document_rate) / len(RUN)) ** 0.5
    assert abs(rate - FEED.bad_document_rate) < 4 * sigma, rate
    assert set(bad) == set(DEFECTS)
    assert sum(MODEL.defects.values()) == len(bad)


def test_documents_are_consistent() -> None:
    for b in CLEAN:
        o, p, w = b.order, b.payment, b.waybill
        assert p is not None and w is not None
        assert o.actural_paid_fen == o.goods_value_fen + o.freight_fen + o.tax_total_fen - o.discount_fen
        assert p.amount_paid_fen == o.actural_paid_fen
        assert (p.payer_id_number, p.payer_name) == (o.buyer_id_number, o.buyer_name)
        assert (w.consignee, w.consignee_phone, w.consignee_address) == (
            o.consignee,
            o.consignee_phone,
            o.consignee_address,
        )
        assert o.tax_total_fen == compute_tax(o, w, BY_ID, CUSTOMS)
        assert w.freight_fen == o.freight_fen and 0 <= o.discount_fen <= o.goods_value_fen
        carrier = next(c for c in WAREHOUSE.carriers if c.code == w.carrier)
        assert w.route in carrier.routes and w.route == route_of_address(w.consignee_address)
    assert len({b.order.order_no for _, b, _ in RUN}) == len(RUN)
    assert any(b.order.freight_fen > 0 for b in CLEAN) and any(b.order.discount_fen > 0 for b in CLEAN)
    assert any(b.waybill and b.waybill.insured_fee_fen > 0 for b in CLEAN)


def test_carriers_follow_their_share_where_routes_overlap() -> None:
    counts = Counter(b.waybill.carrier for b in CLEAN if b.waybill and b.waybill.route in ("north", "south"))
    total = sum(counts.values())
    shares = {c.code: c.share for c in WAREHOUSE.carriers}
    for code, share in shares.items():
        assert abs(counts[code] / total - share / sum(shares.values())) < 0.05, counts


def test_same_seed_same_feed() -> None:
    _, a = _run(50, seed=42)
    _, b = _run(50, seed=42)
    _, c = _run(50, seed=43)
    assert [x[1] for x in a] == [x[1] for x in b]
    assert [x[1] for x in a] != [x[1] for x in c]


def test_interarrival_mean_and_evening_peak() -> None:
    model = OrderFeedModel(CATALOG, WAREHOUSE.carriers, FEED, CUSTOMS, 9)
    rate = 600.0
    now, times = T0, []
    while now < T0 + 7 * 86400:
        now += model.interarrival(now, rate)
        times.append(now)
    per_hour = len(times) / (7 * 24)
    assert abs(per_hour - rate) / rate < 0.05
    hours = Counter(int(((t - T0) / 3600) % 24) for t in times)  # T0 is local midnight
    evening = hours[20] + hours[21]
    night = hours[3] + hours[4]
    assert evening > 4 * night
    shifted = Counter(int(((t - T0) / 3600) % 24) for t in _times(model, rate, utc_offset_h=0.0))
    assert shifted[4] + shifted[5] > shifted[12] + shifted[13]  # 20-22 UTC+0 is 04-06 at UTC+8
    with pytest.raises(ValueError):
        model.interarrival(T0, 0)


def _times(model: OrderFeedModel, rate: float, utc_offset_h: float) -> list[float]:
    now, out = T0, []
    while now < T0 + 3 * 86400:
        now += model.interarrival(now, rate, utc_offset_h=utc_offset_h)
        out.append(now)
    return out


def test_order_feed_publishes_bundles_and_lots() -> None:
    clock = VirtualClock(T0 + 19 * 3600)
    broker = InProcBroker(clock)
    received: list[OrderBundle] = []
    lots_in: list[LotReceipt] = []
    listener = broker.client("listener")
    lost_acks = {"left": 5}  # the first acks go missing: those orders must come again, once each

    def on_order(_t: str, data: bytes) -> None:
        bundle = OrderBundle.model_validate_json(data)
        if bundle.order.order_no in {b.order.order_no for b in received}:
            redelivered.append(bundle.order.order_no)
        else:
            received.append(bundle)
        if lost_acks["left"] > 0 and len(received) <= 5:
            lost_acks["left"] -= 1
            return
        listener.publish(topics.acks("zz1"), Ack(kind="order", ref=bundle.order.order_no))

    def on_lot(_t: str, data: bytes) -> None:
        lot = LotReceipt.model_validate_json(data)
        lots_in.append(lot)
        listener.publish(topics.acks("zz1"), Ack(kind="lot", ref=lot.lot))

    redelivered: list[str] = []
    listener.subscribe(topics.orders("zz1"), on_order)
    listener.subscribe(topics.inbound("zz1"), on_lot)
    model = OrderFeedModel(CATALOG, WAREHOUSE.carriers, FEED, CUSTOMS, 3)
    until = clock.now() + 2 * 3600
    feed = OrderFeed(broker.client("feed"), clock, "zz1", model, rate_per_h=300, until=until, utc_offset_h=8)
    lots = generate_lots(CATALOG, FEED, clock.now())[:10]
    assert feed.publish_lots(lots) == 10
    feed.start()
    feed.start()  # idempotent
    clock.run(until=until + 60)
    assert feed.sent > 300 and len(received) == feed.sent
    assert sorted(set(redelivered)) == sorted(b.order.order_no for b in received[:5]) and feed.unacked == 0
    assert feed.lots_sent == 10 and lots_in == lots
    assert 0 <= feed.bad_sent <= feed.sent
    assert len({b.order.order_no for b in received}) == feed.sent
    sent = feed.sent
    clock.run(until=until + 7200)
    assert feed.sent == sent  # nothing after `until`
