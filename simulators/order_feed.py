"""Simulated cross-border order feed: realistic consumer orders with their payment and waybill documents.

`OrderFeedModel` is pure generation (seeded, no I/O, time passed in); `OrderFeed` puts it on a clock
and publishes each `OrderBundle` as JSON on ``wms/{partition}/orders``. It honours the controller's
back-pressure signal on ``wms/{partition}/intake``: while intake is closed new orders wait in the feed
(counted in ``held_back``, none dropped) and go out, oldest first, once it opens again.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import random
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulators.spool import HeldOrders
from wms import topics
from wms.bus.base import Bus
from wms.clock import Clock, Timer
from wms.config import Carrier, CustomsConfig, Feed, Promotion
from wms.control.admission import IntakeSignal
from wms.domain import CustomsOrder, LotReceipt, OrderBundle, OrderLine, Payment, Sku, Waybill, Zone
from wms.inspection.ceb import route_of_address, timestamp
from wms.inspection.rules import on_positive_list
from wms.inspection.tax import compute_tax
from wms.messages import Ack

if TYPE_CHECKING:
    from wms.o2o.feed import O2OOrderModel

log = logging.getLogger(__name__)

PLATFORM_CODE = "4101966001"
BUYER_CACHE = 256  # buyers kept generated; the others are made again from their seed when they return
SELLERS = ("4101966101", "4101966102", "4101966103")
PAY_COMPANIES = ("3120966201", "4403966202")
PARTY_NAMES: dict[str, str] = {
    PLATFORM_CODE: "模拟跨境电商平台",
    "4101966101": "模拟海外优品旗舰店",
    "4101966102": "模拟环球母婴专营店",
    "4101966103": "模拟欧洲美妆官方店",
    "3120966201": "模拟支付公司甲",
    "4403966202": "模拟支付公司乙",
}
DEFECTS = ("missing_payment", "missing_waybill", "amount_mismatch", "consignee_mismatch", "unknown_sku")

# Orders per hour of local day relative to the daily mean (evening peak 20:00-22:00, night trough).
DAILY_PROFILE: tuple[float, ...] = (
    0.90,
    0.60,
    0.35,
    0.20,
    0.15,
    0.15,
    0.25,
    0.45,
    0.70,
    0.90,
    1.05,
    1.10,
    1.15,
    1.05,
    1.00,
    1.00,
    1.00,
    1.00,
    1.10,
    1.30,
    1.65,
    1.75,
    1.55,
    1.20,
)

# province, ID-card province code, relative share of orders, {city: districts}
_PROVINCES: tuple[tuple[str, str, float, dict[str, tuple[str, ...]]], ...] = (
    ("北京市", "11", 6, {"": ("朝阳区", "海淀区", "丰台区", "西城区")}),
    ("天津市", "12", 2, {"": ("南开区", "河西区", "滨海新区")}),
    ("河北省", "13", 3, {"石家庄市": ("长安区", "裕华区"), "保定市": ("竞秀区",)}),
    ("辽宁省", "21", 2, {"沈阳市": ("和平区", "浑南区"), "大连市": ("中山区", "甘井子区")}),
    ("黑龙江省", "23", 1, {"哈尔滨市": ("南岗区", "道里区")}),
    ("上海市", "31", 8, {"": ("浦东新区", "徐汇区", "静安区", "闵行区")}),
    ("江苏省", "32", 8, {"南京市": ("鼓楼区", "建邺区"), "苏州市": ("姑苏区", "工业园区")}),
    ("浙江省", "33", 8, {"杭州市": ("西湖区", "滨江区", "余杭区"), "宁波市": ("鄞州区",)}),
    ("山东省", "37", 5, {"济南市": ("历下区",), "青岛市": ("市南区", "崂山区")}),
    ("安徽省", "34", 2, {"合肥市": ("蜀山区", "包河区")}),
    ("广东省", "44", 10, {"广州市": ("天河区", "越秀区", "番禺区"), "深圳市": ("南山区", "福田区")}),
    ("福建省", "35", 3, {"福州市": ("鼓楼区",), "厦门市": ("思明区", "湖里区")}),
    ("广西壮族自治区", "45", 1, {"南宁市": ("青秀区",)}),
    ("海南省", "46", 1, {"海口市": ("龙华区",)}),
    ("河南省", "41", 5, {"郑州市": ("金水区", "郑东新区", "二七区"), "洛阳市": ("洛龙区",)}),
    ("湖北省", "42", 4, {"武汉市": ("武昌区", "洪山区", "江汉区")}),
    ("湖南省", "43", 3, {"长沙市": ("岳麓区", "天心区")}),
    ("江西省", "36", 1, {"南昌市": ("红谷滩区",)}),
    ("四川省", "51", 5, {"成都市": ("武侯区", "锦江区", "高新区")}),
    ("重庆市", "50", 3, {"": ("渝中区", "江北区", "渝北区")}),
    ("陕西省", "61", 2, {"西安市": ("雁塔区", "未央区")}),
    ("云南省", "53", 1, {"昆明市": ("五华区",)}),
    ("新疆维吾尔自治区", "65", 0.5, {"乌鲁木齐市": ("天山区",)}),
    ("西藏自治区", "54", 0.2, {"拉萨市": ("城关区",)}),
    ("青海省", "63", 0.3, {"西宁市": ("城西区",)}),
)
_ROADS = ("人民路", "建设路", "解放路", "中山路", "文化路", "长江路", "黄河路", "花园路", "科技路", "新华路")
_COMMUNITIES = ("阳光花园", "锦绣家园", "翠湖小区", "金色港湾", "书香苑", "东方明珠苑", "幸福里", "绿地新城")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍红鹏辉建文婷宇浩凯欣怡雪琳晨思佳涵轩诺嘉"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_digit(first17: str) -> str:
    """GB 11643 check character of a resident ID number."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True, slots=True)
class Buyer:
    """A consumer with a fixed identity, phone, delivery address and consignee."""

    reg_no: str
    name: str
    id_number: str
    phone: str
    address: str
    region: str
    consignee: str
    consignee_phone: str


def _name(rng: random.Random) -> str:
    """A plausible Chinese personal name."""
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(_SURNAMES) + given


def _phone(rng: random.Random) -> str:
    """An 11-digit mainland mobile number."""
    return f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"


def make_buyer(seed: int, index: int) -> Buyer:
    """Buyer number ``index`` of the pool of ``seed``: the same identity every time."""
    rng = random.Random(f"buyer:{seed}:{index}")
    province, code, _, cities = rng.choices(_PROVINCES, [p[2] for p in _PROVINCES])[0]
    city = rng.choice(sorted(cities))
    address = (
        f"{province}{city}{rng.choice(cities[city])}{rng.choice(_ROADS)}{rng.randint(1, 999)}号"
        f"{rng.choice(_COMMUNITIES)}{rng.randint(1, 30)}幢{rng.randint(1, 6)}单元{rng.randint(1, 33)}"
        f"{rng.randint(1, 4):02d}室"
    )
    birth = f"{rng.randint(1965, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = f"{code}{rng.randint(1, 20):02d}{rng.randint(1, 30):02d}{birth}{rng.randrange(1000):03d}"
    name, phone = _name(rng), _phone(rng)
    other = rng.random() < 0.2
    return Buyer(
        reg_no=f"U{index + 1:09d}",
        name=name,
        id_number=first17 + id_check_digit(first17),
        phone=phone,
        address=address,
        region=route_of_address(address),
        consignee=_name(rng) if other else name,
        consignee_phone=_phone(rng) if other else phone,
    )


def _weighted_index(rng: random.Random, weights: Sequence[float]) -> int:
    """Index drawn with probability proportional to ``weights``."""
    return rng.choices(range(len(weights)), weights)[0]


class OrderFeedModel:
    """Seeded generator of order bundles; stateful (buyers seen, sequence numbers), never does I/O."""

    def __init__(
        self,
        catalog: list[Sku],
        carriers: list[Carrier],
        feed: Feed,
        customs: CustomsConfig,
        seed: int | None = None,
        *,
        utc_offset_h: float = 8.0,
        daily_profile: Sequence[float] | None = None,
        promotions: Sequence[Promotion] | None = None,
    ) -> None:
        if not carriers:
            raise ValueError("at least one carrier is needed")
        self.feed = feed
        self.customs = customs
        self.carriers = list(carriers)
        self.utc_offset_h = utc_offset_h
        self.seed = feed.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.catalog = {s.sku: s for s in catalog}
        self.orderable = self._orderable(catalog)
        if not self.orderable:
            raise ValueError("no orderable SKU: need bonded SKUs with listed HS codes and known categories")
        # Pareto popularity: the SKU at rank r (catalogue order, which the catalogue draws at random over
        # categories and prices) gets the Pareto quantile of (r − ½)/n, so the top share p of SKUs draws
        # about p^(1 − 1/alpha) of the lines (80% of them for the top 20% at alpha 1.16). The catalogue
        # order is the rank the controller slots by until it has seen demand, and the O2O assortment.
        n = len(self.orderable)
        self.popularity = [((r + 0.5) / n) ** (-1 / feed.pareto_alpha) for r in range(n)]
        self._cum = list(_accumulate(self.popularity))
        if daily_profile is None:
            daily_profile = feed.daily_profile or DAILY_PROFILE
        self.profile = _normalized(daily_profile)
        self.promotions = tuple(feed.promotions if promotions is None else promotions)
        self._curves: dict[tuple[tuple[float, ...], float], ArrivalCurve] = {}
        self._buyers: OrderedDict[int, Buyer] = OrderedDict()  # the most recently used, see BUYER_CACHE
        self._seen: list[int] = []
        self._seen_set: set[int] = set()
        self._next_new = 0
        self._recent: dict[int, list[float]] = {}  # buyer -> order times of the last 24 h, oldest first
        self._spent: dict[int, Counter[int]] = defaultdict(Counter)  # year -> buyer -> goods value
        self._seq = 0
        self.last_defect: str | None = None
        self.defects: Counter[str] = Counter()
        self.repeat_orders = 0

    def _orderable(self, catalog: list[Sku]) -> list[Sku]:
        """SKUs a clean cross-border order may contain: bonded, listed, taxable, not over the single limit."""
        c = self.customs
        return [
            s
            for s in catalog
            if s.zone == Zone.BONDED
            and s.category in c.categories
            and on_positive_list(s.hs_code, c.positive_list)
            and (s.unit_value_fen <= c.single_limit_fen or c.single_item_exception)
            and s.unit_value_fen <= c.annual_limit_fen
        ]

    @property
    def names(self) -> dict[str, str]:
        """Enterprise code → name of every party in the generated documents (for CEB writers)."""
        return {**PARTY_NAMES, **{c.code: c.name for c in self.carriers}}

    # ---------------------------------------------------------------------------------------------- buyers

    def _buyer(self, index: int) -> Buyer:
        """The buyer of a pool index (seeded by it, so a buyer evicted from the cache comes back the same)."""
        buyer = self._buyers.get(index)
        if buyer is None:
            buyer = self._buyers[index] = make_buyer(self.seed, index)
            if len(self._buyers) > BUYER_CACHE:
                self._buyers.popitem(last=False)
        else:
            self._buyers.move_to_end(index)
        return buyer

    def _busy(self, index: int, now: float) -> bool:
        """Whether one more order would put this buyer over the daily frequency limit."""
        times = self._recent.get(index, [])
        del times[: bisect.bisect_left(times, now - 86400)]
        if not times:
            self._recent.pop(index, None)
        return len(times) + 1 > self.customs.risk.max_orders_per_buyer_per_day

    def _pick_buyer(self, now: float, fresh: bool = False) -> int:
        """A returning buyer with probability repeat_buyer_share, else a new one (any, once all were used)."""
        if not fresh and self._seen and self.rng.random() < self.feed.repeat_buyer_share:
            index = self.rng.choice(self._seen)
            if not self._busy(index, now):
                return index
        if self._next_new < self.feed.buyers:
            self._next_new += 1
            return self._next_new - 1
        for _ in range(20):
            index = self.rng.randrange(self.feed.buyers)
            if not self._busy(index, now):
                return index
        raise RuntimeError("every buyer drawn is at the daily order limit: raise feed.buyers")

    # ---------------------------------------------------------------------------------------------- lines

    def _draw_lines(self) -> list[tuple[Sku, int, int]]:
        """``(sku, qty, unit price)`` of 1..max_lines distinct popular SKUs, mostly 1-2 lines of 1-3 units."""
        n_lines = 1 + _weighted_index(self.rng, [0.4**k for k in range(self.feed.max_lines)])
        n_lines = min(n_lines, len(self.orderable))
        chosen: dict[str, Sku] = {}
        while len(chosen) < n_lines:
            sku = self.rng.choices(self.orderable, cum_weights=self._cum)[0]
            chosen[sku.sku] = sku
        lines = []
        for sku in chosen.values():
            qty = 1 + _weighted_index(self.rng, (0.6, 0.25, 0.1, 0.03, 0.02))
            promo = self.rng.random() < 0.1
            price = round(sku.unit_value_fen * self.rng.uniform(0.8, 0.95)) if promo else sku.unit_value_fen
            lines.append((sku, qty, max(price, 1)))
        return lines

    def _fit(self, lines: list[tuple[Sku, int, int]], cap: int) -> list[tuple[Sku, int, int]]:
        """Lower quantities, then drop lines, until the goods value fits ``cap`` or one unit is left."""
        lines = list(lines)

        def value() -> int:
            return sum(q * p for _, q, p in lines)

        while value() > cap and (len(lines) > 1 or lines[0][1] > 1):
            multi = [i for i, (_, q, _) in enumerate(lines) if q > 1]
            if multi:
                i = max(multi, key=lambda i: lines[i][1] * lines[i][2])
                sku, q, p = lines[i]
                lines[i] = (sku, q - 1, p)
            else:
                lines.pop(max(range(len(lines)), key=lambda i: lines[i][2]))
        return lines

    def _allowed(self, lines: list[tuple[Sku, int, int]], quota: int) -> bool:
        """Whether a clean order with these lines passes the single and annual limits."""
        value = sum(q * p for _, q, p in lines)
        if value > quota:
            return False
        single = len(lines) == 1 and lines[0][1] == 1 and self.customs.single_item_exception
        return value <= self.customs.single_limit_fen or single

    # ---------------------------------------------------------------------------------------------- bundle

    def _carrier(self, region: str) -> tuple[Carrier, str]:
        """A carrier by share among those serving the region, and the route it takes."""
        serving = [c for c in self.carriers if region in c.routes] or self.carriers
        carrier = serving[_weighted_index(self.rng, [c.share for c in serving])]
        return carrier, region if region in carrier.routes else self.rng.choice(carrier.routes)

    def _freight(self, goods: int, weight_kg: float, region: str) -> int:
        """Free above 199 CNY, else first kg 8-12 CNY plus 4 CNY per further kg (double for remote areas)."""
        if goods >= 19900 and self.rng.random() < 0.9:
            return 0
        fee = self.rng.choice((800, 1000, 1200)) + 400 * max(math.ceil(weight_kg) - 1, 0)
        return fee * 2 if region == "remote" else fee

    def next_bundle(self, now: float) -> OrderBundle:
        """The next order with its payment and waybill; at bad_document_rate with one injected defect."""
        index, lines = self._order_lines(now)
        buyer = self._buyer(index)
        self._seq += 1
        stamp = timestamp(now, self.utc_offset_h)
        goods = sum(q * p for _, q, p in lines)
        discount = 0
        if self.rng.random() < 0.15:
            discount = min(self.rng.choice((500, 1000, 2000, 3000, 5000)), goods // 5)
        weight = sum(s.weight_kg * q for s, q, _ in lines)
        gross = round(weight * 1.05 + 0.1, 3)
        carrier, route = self._carrier(buyer.region)
        freight = self._freight(goods, gross, buyer.region)
        insured = 0
        if goods >= 100000 and self.rng.random() < 0.5:
            insured = max(100, goods // 200)
        order_no = f"EO{stamp[:8]}{self._seq:08d}"
        waybill = Waybill(
            carrier=carrier.code,
            logistics_no=f"{carrier.code}{stamp[2:8]}{self._seq:08d}",
            order_no=order_no,
            freight_fen=freight,
            insured_fee_fen=insured,
            weight_kg=gross,
            consignee=buyer.consignee,
            consignee_phone=buyer.consignee_phone,
            consignee_address=buyer.address,
            route=route,
        )
        fields = dict(
            order_no=order_no,
            ebp_code=PLATFORM_CODE,
            ebc_code=self.rng.choice(SELLERS),
            goods_value_fen=goods,
            freight_fen=freight,
            discount_fen=discount,
            tax_total_fen=0,
            actural_paid_fen=0,
            buyer_reg_no=buyer.reg_no,
            buyer_name=buyer.name,
            buyer_phone=buyer.phone,
            buyer_id_type=1,
            buyer_id_number=buyer.id_number,
            pay_code=self.rng.choice(PAY_COMPANIES),
            pay_transaction_id=f"P{stamp}{self._seq:08d}",
            consignee=buyer.consignee,
            consignee_phone=buyer.consignee_phone,
            consignee_address=buyer.address,
            lines=[
                OrderLine(gnum=i, sku=s.sku, name=s.name, qty=q, price_fen=p, total_fen=q * p)
                for i, (s, q, p) in enumerate(lines, 1)
            ],
        )
        tax = compute_tax(CustomsOrder(**fields), waybill, self.catalog, self.customs)
        paid = goods + freight + tax - discount
        order = CustomsOrder(**{**fields, "tax_total_fen": tax, "actural_paid_fen": paid})
        payment = Payment(
            pay_code=order.pay_code,
            pay_transaction_id=order.pay_transaction_id,
            order_no=order_no,
            payer_id_type=1,
            payer_id_number=buyer.id_number,
            payer_name=buyer.name,
            amount_paid_fen=paid,
            pay_time=timestamp(now - self.rng.uniform(30, 900), self.utc_offset_h),
        )
        self._remember(index, goods, now)
        return self._maybe_defect(OrderBundle(order=order, payment=payment, waybill=waybill))

    def _order_lines(self, now: float) -> tuple[int, list[tuple[Sku, int, int]]]:
        """A buyer and lines that fit the single limit and the buyer's remaining annual quota."""
        year = int(timestamp(now, self.utc_offset_h)[:4])
        fresh = False
        for _ in range(50):
            index = self._pick_buyer(now, fresh)
            quota = self.customs.annual_limit_fen - self._spent[year][index]
            lines = self._fit(self._draw_lines(), min(self.customs.single_limit_fen, quota))
            if self._allowed(lines, quota):
                return index, lines
            fresh = True  # a one-unit order still too dear: try again with a new buyer and new lines
        raise RuntimeError("could not draw an order within the limits: check prices against the limits")

    def _remember(self, index: int, goods: int, now: float) -> None:
        """Track the buyer's orders for repeat draws, the frequency limit and the annual quota."""
        if index in self._seen_set:
            self.repeat_orders += 1
        else:
            self._seen_set.add(index)
            self._seen.append(index)
        self._recent.setdefault(index, []).append(now)
        self._spent[int(timestamp(now, self.utc_offset_h)[:4])][index] += goods

    def _maybe_defect(self, bundle: OrderBundle) -> OrderBundle:
        """With probability bad_document_rate, one defect chosen at random; recorded in ``last_defect``."""
        self.last_defect = None
        if self.rng.random() >= self.feed.bad_document_rate:
            return bundle
        defect = self.rng.choice(DEFECTS)
        self.last_defect = defect
        self.defects[defect] += 1
        order, payment, waybill = bundle.order, bundle.payment, bundle.waybill
        assert payment is not None and waybill is not None
        if defect == "missing_payment":
            return bundle.model_copy(update={"payment": None})
        if defect == "missing_waybill":
            return bundle.model_copy(update={"waybill": None})
        if defect == "amount_mismatch":
            delta = self.rng.choice((1, 100, 1000, 10000))
            paid = payment.amount_paid_fen
            amount = paid - delta if paid >= delta and self.rng.random() < 0.5 else paid + delta
            wrong = Payment(**{**payment.model_dump(), "amount_paid_fen": amount})
            return bundle.model_copy(update={"payment": wrong})
        if defect == "consignee_mismatch":
            field = self.rng.choice(("consignee", "consignee_phone", "consignee_address"))
            value = {
                "consignee": _name(self.rng),
                "consignee_phone": _phone(self.rng),
                "consignee_address": waybill.consignee_address.replace("号", f"{self.rng.randint(1, 9)}号"),
            }[field]
            if value == getattr(order, field):
                value += "甲"
            return bundle.model_copy(update={"waybill": Waybill(**{**waybill.model_dump(), field: value})})
        unknown = f"SKU{len(self.catalog) + self.rng.randint(1, 9999):05d}X"
        i = self.rng.randrange(len(order.lines))
        lines = [ln.model_copy(update={"sku": unknown}) if j == i else ln for j, ln in enumerate(order.lines)]
        return bundle.model_copy(update={"order": CustomsOrder(**{**order.model_dump(), "lines": lines})})

    # ---------------------------------------------------------------------------------------------- timing

    def curve(
        self, utc_offset_h: float | None = None, profile: Sequence[float] | None = None
    ) -> ArrivalCurve:
        """The arrival curve (daily profile and promotions, mean 1 over a day) at a UTC offset, cached."""
        hourly = self.profile if profile is None else _normalized(profile)
        offset = self.utc_offset_h if utc_offset_h is None else utc_offset_h
        key = (hourly, offset)
        if key not in self._curves:
            self._curves[key] = ArrivalCurve(hourly, self.promotions, offset)
        return self._curves[key]

    def rate_multiplier(
        self, now: float, utc_offset_h: float | None = None, profile: Sequence[float] | None = None
    ) -> float:
        """Daily-curve factor at ``now`` (mean 1 over a day), linear between the hourly values."""
        return self.curve(utc_offset_h, profile).value(now)

    def interarrival(
        self,
        now: float,
        rate_per_h: float,
        *,
        utc_offset_h: float | None = None,
        profile: Sequence[float] | None = None,
    ) -> float:
        """Seconds to the next order: Poisson at mean rate_per_h shaped by the daily curve (by thinning)."""
        if rate_per_h <= 0:
            raise ValueError(f"rate_per_h must be > 0, got {rate_per_h}")
        curve = self.curve(utc_offset_h, profile)
        peak = curve.peak
        t = now
        while True:
            t += self.rng.expovariate(rate_per_h * peak / 3600.0)
            if self.rng.random() * peak <= curve.value(t):
                return t - now


class ArrivalCurve:
    """Relative order rate over the local day: the hourly profile times any promotion windows, mean 1.

    Without promotions it is the profile itself (linear between local whole hours); with them the whole
    curve is scaled down so that a day still brings ``rate_per_h * 24`` orders on average, the promotion
    hours taking their extra share from the rest of the day.
    """

    def __init__(
        self, hourly: Sequence[float], promotions: Sequence[Promotion] = (), utc_offset_h: float = 8.0
    ) -> None:
        mean = sum(hourly) / 24 if len(hourly) == 24 else 0.0
        self.hourly = tuple(hourly) if abs(mean - 1.0) < 1e-12 else _normalized(hourly)
        self.utc_offset_h = utc_offset_h
        self.windows = [(p.start_h, p.start_h + p.hours, p.factor) for p in promotions]
        self.scale = 1.0 / self._day_mean() if self.windows else 1.0
        top = max(self.hourly)
        self.peak = top * self.scale * math.prod(max(1.0, f) for *_, f in self.windows)

    def promotion_factor(self, local_h: float) -> float:
        """Product of the factors of the promotion windows covering a local hour of the day (0..24)."""
        factor = 1.0
        for a, b, f in self.windows:
            if a <= local_h < b or a <= local_h + 24.0 < b:
                factor *= f
        return factor

    def value(self, ts: float) -> float:
        """Relative rate at an instant (mean 1 over a local day)."""
        base = _curve(self.hourly, ts, self.utc_offset_h)
        if not self.windows:
            return base
        return base * self.scale * self.promotion_factor((ts / 3600.0 + self.utc_offset_h) % 24.0)

    def _day_mean(self) -> float:
        """Mean over a local day of profile times promotion factor, exact (piecewise linear pieces)."""
        cuts = {float(h) for h in range(25)}
        for a, b, _ in self.windows:
            cuts |= {a % 24.0, b % 24.0}
        points = sorted(cuts)
        total = 0.0
        for a, b in itertools.pairwise(points):
            if b <= a:
                continue
            ca, cb = self._hourly_at(a), self._hourly_at(b)
            total += (ca + cb) / 2.0 * (b - a) * self.promotion_factor((a + b) / 2.0)
        return total / 24.0

    def _hourly_at(self, local_h: float) -> float:
        """Profile value at a local hour (0..24), linear between whole hours, 24 wrapping to 0."""
        i = int(local_h) % 24
        f = local_h - int(local_h)
        return self.hourly[i] * (1 - f) + self.hourly[(i + 1) % 24] * f


def _curve(curve: Sequence[float], ts: float, utc_offset_h: float) -> float:
    """Value of an hourly curve at an instant, linear between local whole hours."""
    hour = (ts / 3600.0 + utc_offset_h) % 24.0
    i = int(hour)
    f = hour - i
    return curve[i] * (1 - f) + curve[(i + 1) % 24] * f


def _accumulate(values: Sequence[float]) -> list[float]:
    """Running sums."""
    out, total = [], 0.0
    for v in values:
        total += v
        out.append(total)
    return out


def _normalized(profile: Sequence[float]) -> tuple[float, ...]:
    """24 hourly factors scaled to mean 1."""
    if len(profile) != 24 or min(profile) < 0 or sum(profile) <= 0:
        raise ValueError("a daily profile has 24 non-negative hourly factors, not all zero")
    mean = sum(profile) / 24
    return tuple(p / mean for p in profile)


class OrderFeed:
    """Publishes the model's bundles on the orders topic at the modelled arrival times, and lot receipts."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        partition: str,
        model: OrderFeedModel,
        rate_per_h: float,
        until: float | None = None,
        utc_offset_h: float = 8.0,
        resend_after_s: float = 60.0,
        catchup_per_h: float | None = None,
        o2o_per_hour: float = 0.0,
        o2o_counters: Sequence[str] | None = None,
        o2o_skus: Sequence[str] | None = None,
        o2o_hours: tuple[str, str] = ("09:00", "22:00"),
    ) -> None:
        if rate_per_h <= 0:
            raise ValueError(f"rate_per_h must be > 0, got {rate_per_h}")
        if catchup_per_h is not None and catchup_per_h <= 0:
            raise ValueError(f"catchup_per_h must be > 0, got {catchup_per_h}")
        self.bus = bus
        self.clock = clock
        self.partition = partition
        self.model = model
        self.rate_per_h = rate_per_h
        self.until = until
        self.utc_offset_h = utc_offset_h
        self.sent = 0
        self.bad_sent = 0
        self.lots_sent = 0
        self.resent = 0
        self.resend_after_s = resend_after_s
        self._unacked: dict[
            tuple[str, str], tuple[str, str, float]
        ] = {}  # (kind, ref) -> (topic, json, sent)
        self._timer: Timer | None = None
        self._resender: Timer | None = None
        # back-pressure: orders generated while the controller's intake is closed wait here, in order
        self.accepting = True
        self.held_back = 0  # orders that had to wait for the intake to open (all sent later)
        self.intake_signals = 0
        self.catchup_per_h = catchup_per_h or 2.0 * rate_per_h
        self._held = HeldOrders()  # (order_no, json, has a defect), payloads on disk
        self._releaser: Timer | None = None
        self._stopped = False
        # called with (order_no, time generated, held back) for every regular order (benches count arrivals)
        self.on_generated: Callable[[str, float, bool], None] | None = None
        # O2O: shoppers' orders at the experience store's counters, on top of the regular flow (0: none)
        self.o2o_model: O2OOrderModel | None = None
        self.o2o_per_hour = 0.0
        self.o2o_sent = 0
        self._o2o_timer: Timer | None = None
        if o2o_per_hour > 0:
            self.enable_o2o(o2o_per_hour, o2o_counters or ["C1"], o2o_skus, o2o_hours)
        bus.subscribe(topics.acks(partition), self._on_ack, qos=1)
        bus.subscribe(topics.intake(partition), self._on_intake, qos=1)

    @property
    def unacked(self) -> int:
        """Orders and lots sent but not yet confirmed by the controller."""
        return len(self._unacked)

    @property
    def holding(self) -> int:
        """Orders generated but waiting for the controller's intake to open (not yet sent)."""
        return len(self._held)

    def _send(self, kind: str, ref: str, topic: str, payload: str) -> None:
        """Publish and keep the message until the controller acknowledges it (at-least-once delivery)."""
        self._unacked[(kind, ref)] = (topic, payload, self.clock.now())
        self.bus.publish(topic, payload, qos=1)
        if self._resender is None:
            self._resender = self.clock.call_later(self.resend_after_s, self._resend)

    def _on_ack(self, topic: str, data: bytes) -> None:
        try:
            ack = Ack.model_validate_json(data)
        except ValueError:
            log.warning("order feed: malformed ack on %s: %.200r", topic, data)
            return
        self._unacked.pop((ack.kind, ack.ref), None)

    def _on_intake(self, topic: str, data: bytes) -> None:
        """The controller opened or closed its intake: hold new orders, or send the held ones."""
        try:
            sig = IntakeSignal.model_validate_json(data)
        except ValueError:
            log.warning("order feed: malformed intake signal on %s: %.200r", topic, data)
            return
        self.intake_signals += 1
        if sig.accepting == self.accepting:
            return
        self.accepting = sig.accepting
        log.info("order feed: intake %s (%s)", "open" if sig.accepting else "closed", sig.reason)
        if self.accepting and self._releaser is None and not self._stopped:
            self._release()

    def _release(self) -> None:
        """Send the oldest held order, then the next after 1/catchup_per_h, while the intake is open."""
        self._releaser = None
        if self._stopped or not self.accepting or not self._held:
            return
        order_no, payload, bad = self._held.popleft()
        self._publish_order(order_no, payload, bad)
        if self._held:
            self._releaser = self.clock.call_later(3600.0 / self.catchup_per_h, self._release)

    def _resend(self) -> None:
        """Send again what the controller has not confirmed within ``resend_after_s``."""
        now = self.clock.now()
        for key, (topic, payload, sent) in list(self._unacked.items()):
            if now - sent >= self.resend_after_s:
                self._unacked[key] = (topic, payload, now)
                self.bus.publish(topic, payload, qos=1)
                self.resent += 1
        self._resender = self.clock.call_later(self.resend_after_s, self._resend) if self._unacked else None

    def start(self) -> None:
        """Schedule the first order (no-op if already running)."""
        self._stopped = False
        if self._timer is None:
            self._schedule()
        if self._releaser is None and self._held:
            self._release()
        if self.o2o_model is not None and self._o2o_timer is None:
            self._schedule_o2o()

    def stop(self) -> None:
        """Cancel the next scheduled order (and the sending of held ones, which are kept)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._releaser is not None:
            self._releaser.cancel()
            self._releaser = None
        if self._o2o_timer is not None:
            self._o2o_timer.cancel()
            self._o2o_timer = None

    def _schedule(self) -> None:
        """Book the next arrival, unless it would fall after ``until``."""
        now = self.clock.now()
        at = now + self.model.interarrival(now, self.rate_per_h, utc_offset_h=self.utc_offset_h)
        if self.until is not None and at > self.until:
            self._timer = None
            return
        self._timer = self.clock.call_at(at, self._fire)

    def _fire(self) -> None:
        """Generate one bundle and publish it (or hold it while the intake is closed), then book the next."""
        bundle = self.model.next_bundle(self.clock.now())
        order_no, payload = bundle.order.order_no, bundle.model_dump_json()
        bad = self.model.last_defect is not None
        held = not (self.accepting and not self._held)
        if self.on_generated is not None:
            self.on_generated(order_no, self.clock.now(), held)
        if not held:
            self._publish_order(order_no, payload, bad)
        else:  # behind the orders already waiting, so they keep their order
            self._held.append(order_no, payload, bad)
            self.held_back += 1
            if self.accepting and self._releaser is None:
                self._release()
        self._schedule()

    def _publish_order(self, order_no: str, payload: str, bad: bool) -> None:
        """Send one order (kept until acknowledged) and count it."""
        self._send("order", order_no, topics.orders(self.partition), payload)
        self.sent += 1
        self.bad_sent += bad

    def publish_lots(self, lots: list[LotReceipt]) -> int:
        """Publish each lot receipt on the inbound topic; returns how many were sent."""
        for lot in lots:
            self._send("lot", lot.lot, topics.inbound(self.partition), lot.model_dump_json())
        self.lots_sent += len(lots)
        return len(lots)

    # O2O orders -----------------------------------------------------------------------------------

    def enable_o2o(
        self,
        rate_per_h: float,
        counters: Sequence[str],
        skus: Sequence[str] | None = None,
        hours: tuple[str, str] = ("09:00", "22:00"),
        address: str = "home",
    ) -> None:
        """Also send O2O orders at ``rate_per_h`` while the counters are open, lines from ``skus``.

        ``skus`` is the store's assortment (default: the first 60 of the catalogue, which is by rank).
        O2O orders are not held back by a closed intake: a shopper waits at the counter for the answer.
        """
        from wms.o2o.feed import O2OOrderModel

        if rate_per_h <= 0:
            raise ValueError(f"o2o rate must be > 0, got {rate_per_h}")
        assortment = list(self.model.catalog)[:60] if skus is None else list(skus)
        self.o2o_model = O2OOrderModel(
            self.model.catalog,
            self.model.customs,
            assortment,
            counters,
            opens=hours[0],
            closes=hours[1],
            seed=self.model.seed,
            utc_offset_h=self.utc_offset_h,
            address=address,  # type: ignore[arg-type]
        )
        self.o2o_per_hour = rate_per_h
        if self._timer is not None and self._o2o_timer is None:  # already running
            self._schedule_o2o()

    def _schedule_o2o(self) -> None:
        """Book the next O2O order, unless the counters never open or it would fall after ``until``."""
        assert self.o2o_model is not None
        now = self.clock.now()
        gap = self.o2o_model.interarrival(now, self.o2o_per_hour)
        if gap is None or (self.until is not None and now + gap > self.until):
            self._o2o_timer = None
            return
        self._o2o_timer = self.clock.call_at(now + gap, self._fire_o2o)

    def _fire_o2o(self) -> None:
        """Generate one O2O order and send it at once (kept until acknowledged), then book the next."""
        assert self.o2o_model is not None
        bundle = self.o2o_model.next_bundle(self.clock.now())
        self._publish_order(bundle.order.order_no, bundle.model_dump_json(), False)
        self.o2o_sent += 1
        self._schedule_o2o()
