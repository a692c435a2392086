"""Stock after dispatch: consumer returns back into bond and counted adjustments of a lot.

A mixin of `Controller` (the handlers of ``wms/{partition}/stock/returns`` and ``…/adjustments``): each
books its movement in one unit of work with its ledger lines, keeps the controller's view of free stock
and the gate's buyer quota in step, and answers on ``…/stock/results``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from wms import topics
from wms.control.returns import ReturnError, plan_return
from wms.domain import OrderBundle, ParcelState
from wms.messages import ReturnNotice, StockAdjustment, StockResult
from wms.picking.allocation import LotView

if TYPE_CHECKING:
    from wms.control.controller import Controller


class StockMoves:
    """Consumer returns and stock adjustments, as `Controller` handles them."""

    def _stock_result(
        self: Controller,
        ref: str,
        kind: Literal["return", "adjustment"],
        accepted: bool,
        detail: str,
        quota_fen: int = 0,
    ) -> None:
        """Answer the returns desk or stock controller; a refusal is also counted and shown as an alarm."""
        if not accepted:
            self._count(f"{kind}s_refused")
            self.alarm("warning", "stock", f"{kind} {ref} refused: {detail}")
        result = StockResult(
            ref=ref, kind=kind, accepted=accepted, detail=detail, quota_restored_fen=quota_fen
        )
        self.outbox.publish(topics.stock_results(self.part), result, qos=1)

    def _on_return(self: Controller, data: bytes) -> None:
        """A consumer return of a dispatched order: units back into bond, the buyer's quota within 30 days."""
        notice = ReturnNotice.model_validate_json(data)
        now = self.clock.now()
        booked = self.repo.return_rows(notice.return_no)
        if booked:
            if booked[0].order_no != notice.order_no:
                detail = f"return number already used for order {booked[0].order_no}"
                self._stock_result(notice.return_no, "return", False, detail)
                return
            units = self.repo.restock_return(notice.return_no, now) if notice.restock else []
            self._restocked(units)
            if not units:
                self._count("duplicate_messages")
            detail = f"restocked {sum(q for _, _, q in units)} units" if units else "already booked"
            self._stock_result(notice.return_no, "return", True, detail)
            return
        state, closed_at, released = self.repo.released_units(notice.order_no)
        if state != ParcelState.DISPATCHED or closed_at is None:
            why = "unknown order" if state is None else f"order is {state}, not dispatched"
            self._stock_result(notice.return_no, "return", False, f"order {notice.order_no}: {why}")
            return
        before = [(r.lot, r.sku, r.qty) for r in self.repo.returns_of(notice.order_no)]
        lines = None if notice.lines is None else [(ln.sku, ln.qty) for ln in notice.lines]
        try:
            units = plan_return(notice.order_no, released, before, lines)
        except ReturnError as exc:
            self._stock_result(notice.return_no, "return", False, str(exc))
            return
        quota = 0
        if self.history.within_return_window(now, closed_at):
            order = OrderBundle.model_validate_json(self.repo.order_document(notice.order_no) or "").order
            price = {ln.sku: ln.total_fen / ln.qty for ln in order.lines}
            value = round(sum(qty * price.get(sku, 0.0) for _, sku, qty in units))
            quota = self.history.restore_quota(notice.order_no, value)
        self.repo.book_return(notice.return_no, notice.order_no, units, notice.restock, quota, now)
        if notice.restock:
            self._restocked(units)
        n = sum(q for _, _, q in units)
        where = "back in stock" if notice.restock else "in the returns area"
        self._stock_result(notice.return_no, "return", True, f"{n} units {where}", quota)

    def _restocked(self: Controller, units: list[tuple[str, str, int]]) -> None:
        for lot, _sku, qty in units:
            lv = self.lots[lot]
            self.lots[lot] = LotView(lv.lot, lv.sku, lv.expiry, lv.available + qty)

    def _on_adjustment(self: Controller, data: bytes) -> None:
        """A counted stock correction: the lot's stock and the ledger, never below what orders reserved."""
        adj = StockAdjustment.model_validate_json(data)
        known = self.repo.adjustment(adj.adjustment_no)
        if known is not None:
            same = (known.lot, known.qty) == (adj.lot, adj.qty)
            self._count("duplicate_messages")
            detail = "already booked" if same else f"number already used for lot {known.lot}, {known.qty:+d}"
            self._stock_result(adj.adjustment_no, "adjustment", same, detail)
            return
        lv = self.lots.get(adj.lot)
        if lv is None or adj.qty == 0:
            why = f"unknown lot {adj.lot}" if lv is None else "quantity 0 changes nothing"
            self._stock_result(adj.adjustment_no, "adjustment", False, why)
            return
        if lv.available + adj.qty < 0:
            why = f"lot {adj.lot} has {lv.available} units free; {adj.qty:+d} would take reserved ones"
            self._stock_result(adj.adjustment_no, "adjustment", False, why)
            return
        self.repo.adjust(adj.adjustment_no, adj.lot, adj.qty, adj.reason, self.clock.now())
        self.lots[adj.lot] = LotView(lv.lot, lv.sku, lv.expiry, lv.available + adj.qty)
        self.alarm("info", "stock", f"lot {adj.lot} adjusted {adj.qty:+d}: {adj.reason}")
        self._stock_result(adj.adjustment_no, "adjustment", True, f"lot {adj.lot} {adj.qty:+d}")
