"""clickhouse-driver reading every ClickHouse type through kafkahouse as it
reads them from ClickHouse: the backend's Native blocks reach the driver as
they are. Usage: HOST PORT. Prints one line per value: its name, whether it
is the Python value ClickHouse gives, and that value's type."""
import datetime
import decimal
import ipaddress
import sys
import uuid

from clickhouse_driver import Client

host, port = sys.argv[1], int(sys.argv[2])
client = Client(host=host, port=port)
expected = {
    "m": ("map('a', 1, 'b', 2)", {"a": 1, "b": 2}),
    "t": ("tuple(1, 'x', [2, 3])", (1, "x", [2, 3])),
    "b": ("true", True),
    "i128": ("toInt128('-170141183460469231731687303715884105728')", -(2**127)),
    "u256": ("toUInt256('115792089237316195423570985008687907853269984665640564039457584007913129639935')", 2**256 - 1),
    "d64": ("toDateTime64('2024-01-02 03:04:05.678', 3, 'UTC')",
            datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)),
    "dec": ("toDecimal256('12345678901234567890123456789012345678.5', 2)",
            decimal.Decimal("12345678901234567890123456789012345678.50")),
    "ip6": ("toIPv6('::1')", ipaddress.IPv6Address("::1")),
    "lcn": ("toLowCardinality(toNullable('x'))", "x"),
    "nested": ("map('k', [toNullable(1), NULL])", {"k": [1, None]}),
    "u": ("toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')", uuid.UUID("61f0c404-5cb3-11e7-907b-a6006ad3dba0")),
    "d32": ("toDate32('1900-01-01')", datetime.date(1900, 1, 1)),
}
select = ", ".join(f"{sql} AS {name}" for name, (sql, _) in expected.items())
row = client.execute(f"SELECT {select}")[0]
for (name, (_, value)), got in zip(expected.items(), row):
    if isinstance(value, datetime.datetime):
        same = got == value.replace(tzinfo=None) or got == value
    else:
        same = got == value
    print(name, same, type(got).__name__ if same else repr(got))
# Many rows, in several blocks.
print("rows", len(client.execute("SELECT number, toString(number) FROM numbers(300000)")))
# And the other way: a typed INSERT of those types (announced as they are,
# passed to the engine as the driver's Native blocks).
client.execute(
    "CREATE TABLE modern (id UInt32, m Map(String, UInt64), t Tuple(a UInt8, b String), "
    "b Bool, i Int128, u UInt256, d Decimal(40, 2), lc LowCardinality(Nullable(String)), "
    "am Array(Map(String, Nullable(Int32)))) ENGINE = MergeTree ORDER BY id"
)
rows = [
    (1, {"a": 1}, (2, "x"), True, -(2**127), 2**256 - 1,
     decimal.Decimal("12345678901234567890123456789012345678.50"), None, [{"k": None}, {}]),
    (2, {}, (0, ""), False, 5, 0, decimal.Decimal("0.01"), "lc", []),
]
print("inserted", client.execute("INSERT INTO modern VALUES", rows))
print("same", client.execute("SELECT * FROM modern ORDER BY id") == rows)
many = [(i, {"k": i}, (i % 256, str(i)), i % 2 == 0, i, i, decimal.Decimal(i), None, [])
        for i in range(3, 100003)]
print("inserted", client.execute("INSERT INTO modern VALUES", many))
print("sum", client.execute("SELECT count(), sum(i) FROM modern")[0])
