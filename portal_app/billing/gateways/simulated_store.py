"""The simulated gateway's memory of charges and refunds, on disk: like a real processor it outlives our processes
and our database.

One SQLite file (SIMULATED_GATEWAY_PATH, default data/simulated_gateway.db), never the application
database: restoring our database from a backup must not rewind what the "processor" charged. Rows are
keyed by idempotency key and keep the request they answered, so a replay after a crash or a restart
returns the first result, and the same key with other parameters is refused as Stripe refuses it.
WAL mode and one IMMEDIATE transaction per charge (or refund) make it safe for several worker processes
at once. Refunds are kept the same way (table `refund`, by idempotency key, with the request and the
result), and the amount already refunded of a charge is summed from it inside the refund's transaction,
so no two processes can together refund more than was charged.
Only references, amounts and outcomes are stored: never a card number.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from portal_app.billing.gateways.base import ChargeOutcome, ChargeResult, RefundResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS charge (
    idempotency_key TEXT PRIMARY KEY,
    customer_ref TEXT NOT NULL,
    payment_method_ref TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    outcome TEXT NOT NULL,
    gateway_ref TEXT NOT NULL,
    decline_code TEXT NOT NULL,
    message TEXT NOT NULL,
    hard INTEGER NOT NULL,
    action_url TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_charge_gateway_ref ON charge (gateway_ref);
CREATE INDEX IF NOT EXISTS ix_charge_customer ON charge (customer_ref, outcome);
CREATE TABLE IF NOT EXISTS refund (
    idempotency_key TEXT PRIMARY KEY,
    charge_ref TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    succeeded INTEGER NOT NULL,
    refund_ref TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_refund_charge ON refund (charge_ref, succeeded);
"""

_COLUMNS = (
    "idempotency_key, customer_ref, payment_method_ref, amount_minor, currency, description, "
    "outcome, gateway_ref, decline_code, message, hard, action_url, created_at"
)

ChargeRequest = tuple[str, str, int, str]  # customer_ref, payment_method_ref, amount_minor, currency
RefundRequest = tuple[str, int, str, str]  # charge_ref, amount_minor, currency, reason


@dataclasses.dataclass(frozen=True)
class SimulatedCharge:
    """A charge that moved money at the simulated gateway (what tests count)."""

    gateway_ref: str
    customer_ref: str
    payment_method_ref: str
    amount_minor: int
    currency: str
    idempotency_key: str
    description: str
    created_at: datetime


@dataclasses.dataclass(frozen=True)
class StoredCharge:
    """One idempotency key at the simulated gateway: the request it answered and the result."""

    idempotency_key: str
    request: ChargeRequest
    description: str
    result: ChargeResult
    created_at: datetime

    def as_charge(self) -> SimulatedCharge:
        """The charge as tests count it (the request's customer, card, amount and currency)."""
        customer_ref, payment_method_ref, amount_minor, currency = self.request
        return SimulatedCharge(
            gateway_ref=self.result.gateway_ref,
            customer_ref=customer_ref,
            payment_method_ref=payment_method_ref,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=self.idempotency_key,
            description=self.description,
            created_at=self.created_at,
        )


def _row_to_charge(row: tuple) -> StoredCharge:
    key, customer, method, amount, currency, description, outcome, ref, code, message, hard, url, created = row
    result = ChargeResult(
        ChargeOutcome(outcome),
        gateway_ref=ref,
        decline_code=code,
        message=message,
        hard=bool(hard),
        action_url=url,
        amount_minor=amount,
        currency=currency,
        customer_ref=customer,
    )
    return StoredCharge(key, (customer, method, amount, currency), description, result, datetime.fromisoformat(created))


class SimulatedChargeStore:
    """Charges by idempotency key in one SQLite file (one connection per thread)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection().executescript(_SCHEMA)  # IF NOT EXISTS: safe from racing processes

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # A commit reaches the OS before charge() answers, so a killed process loses nothing; only
            # an OS crash could (fine for a simulator, and a third faster than synchronous=NORMAL).
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: one writer at a time across processes, so a key is decided once."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @staticmethod
    def get(conn: sqlite3.Connection, idempotency_key: str) -> StoredCharge | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM charge WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        return _row_to_charge(row) if row else None

    @staticmethod
    def insert(
        conn: sqlite3.Connection, idempotency_key: str, request: ChargeRequest, description: str, result: ChargeResult
    ) -> None:
        customer, method, amount, currency = request
        conn.execute(
            f"INSERT INTO charge ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                idempotency_key,
                customer,
                method,
                amount,
                currency,
                description,
                result.outcome.value,
                result.gateway_ref,
                result.decline_code,
                result.message,
                int(result.hard),
                result.action_url,
                datetime.now(UTC).isoformat(),
            ),
        )

    @staticmethod
    def get_by_ref(conn: sqlite3.Connection, gateway_ref: str) -> StoredCharge | None:
        sql = f"SELECT {_COLUMNS} FROM charge WHERE gateway_ref = ? AND gateway_ref != ''"
        row = conn.execute(sql, (gateway_ref,)).fetchone()
        return _row_to_charge(row) if row else None

    # ----------------------------------------------------------------- refunds (in a transaction())

    @staticmethod
    def get_refund(conn: sqlite3.Connection, idempotency_key: str) -> tuple[RefundRequest, RefundResult] | None:
        """The request a refund key answered and its result, or None if the key is unused."""
        row = conn.execute(
            "SELECT charge_ref, amount_minor, currency, reason, succeeded, refund_ref, message FROM refund "
            "WHERE idempotency_key = ?",
            (idempotency_key,),
        ).fetchone()
        if row is None:
            return None
        charge_ref, amount, currency, reason, succeeded, refund_ref, message = row
        return (charge_ref, amount, currency, reason), RefundResult(
            bool(succeeded), gateway_ref=refund_ref, message=message
        )

    @staticmethod
    def refunded_of(conn: sqlite3.Connection, charge_ref: str) -> int:
        """Minor units of this charge already refunded (by every process using the file)."""
        sql = "SELECT COALESCE(SUM(amount_minor), 0) FROM refund WHERE charge_ref = ? AND succeeded = 1"
        return conn.execute(sql, (charge_ref,)).fetchone()[0]

    @staticmethod
    def insert_refund(
        conn: sqlite3.Connection, idempotency_key: str, request: RefundRequest, result: RefundResult
    ) -> None:
        charge_ref, amount, currency, reason = request
        conn.execute(
            "INSERT INTO refund (idempotency_key, charge_ref, amount_minor, currency, reason, succeeded, refund_ref, "
            "message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                idempotency_key,
                charge_ref,
                amount,
                currency,
                reason,
                int(result.succeeded),
                result.gateway_ref,
                result.message,
                datetime.now(UTC).isoformat(),
            ),
        )

    def refunds(self) -> list[tuple[str, int, str]]:
        """(charge ref, amount, currency) of every refund done, oldest first."""
        sql = "SELECT charge_ref, amount_minor, currency FROM refund WHERE succeeded = 1 ORDER BY rowid"
        return [tuple(row) for row in self._connection().execute(sql)]

    def clear_refunds(self) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM refund")

    # ----------------------------------------------------------------- outside a transaction

    def find(self, idempotency_key: str) -> StoredCharge | None:
        return self.get(self._connection(), idempotency_key)

    def find_by_ref(self, gateway_ref: str) -> StoredCharge | None:
        return self.get_by_ref(self._connection(), gateway_ref)

    def succeeded(self, customer_ref: str | None = None) -> list[StoredCharge]:
        """Charges that moved money, oldest first (one customer's, or everyone's)."""
        sql = f"SELECT {_COLUMNS} FROM charge WHERE outcome = ?"
        params: list = [ChargeOutcome.SUCCEEDED.value]
        if customer_ref is not None:
            sql += " AND customer_ref = ?"
            params.append(customer_ref)
        return [_row_to_charge(row) for row in self._connection().execute(sql + " ORDER BY rowid", params)]

    def clear(self) -> None:
        """Forget every charge and every refund."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM refund")
            conn.execute("DELETE FROM charge")


_STORES: dict[Path, SimulatedChargeStore] = {}
_STORES_LOCK = threading.Lock()


def charge_store(path: str | Path) -> SimulatedChargeStore:
    """The store at this path, one object per path and process."""
    resolved = Path(path).resolve()
    with _STORES_LOCK:
        store = _STORES.get(resolved)
        if store is None:
            store = _STORES[resolved] = SimulatedChargeStore(resolved)
        return store
