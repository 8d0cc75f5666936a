"""The API's tenant transaction begins in one round trip, with the tenant id written into the
SQL: only a valid tenant id may ever get there."""

from __future__ import annotations

import pytest

from services.common import tenants


class Recorder:
    """Stands in for a connection: keeps what would be sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def execute(self, sql: str, *args: object) -> str:
        self.sent.append(sql)
        return "SELECT 1"


@pytest.mark.parametrize(
    "bad",
    ["x'; DROP TABLE customers; --", "Chez-Marcel", "", "a b", "a'b", "é", "a" * 64, "-a"],
)
async def test_what_is_not_a_tenant_id_never_reaches_the_sql(bad: str) -> None:
    conn = Recorder()
    with pytest.raises(ValueError, match="not a tenant id"):
        await tenants.begin_scoped(conn, bad)  # type: ignore[arg-type]
    assert conn.sent == []


async def test_a_tenant_id_begins_a_scoped_transaction_in_one_statement() -> None:
    conn = Recorder()
    await tenants.begin_scoped(conn, "chez-marcel_2")  # type: ignore[arg-type]
    assert conn.sent == ["BEGIN; SELECT set_config('contacts.tenant_id', 'chez-marcel_2', true)"]
