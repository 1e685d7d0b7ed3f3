"""clickhouse-driver's typed values both ways through kafkahouse: an insert
of Python dates, times, lists, enums, decimals, UUIDs and NULLs (the driver
serializes by the types the server announces), read back as the same Python
values. Usage: HOST PORT. Prints one line per check."""
import datetime
import decimal
import sys
import uuid

from clickhouse_driver import Client

host, port = sys.argv[1], int(sys.argv[2])
client = Client(host=host, port=port)
client.execute(
    "CREATE TABLE typed (d Date, t DateTime, a Array(UInt32), e Enum8('x' = 1, 'y' = 2), "
    "x Decimal(9, 2), u UUID, n Nullable(Int64), s LowCardinality(String), "
    "tags Array(LowCardinality(String))) ENGINE = MergeTree ORDER BY d"
)
rows = [
    (
        datetime.date(2024, 1, 2),
        datetime.datetime(2024, 1, 2, 3, 4, 5),
        [1, 2],
        "y",
        decimal.Decimal("12.50"),
        uuid.UUID("61f0c404-5cb3-11e7-907b-a6006ad3dba0"),
        None,
        "word",
        ["a", "b"],
    ),
    (datetime.date(1970, 1, 2), datetime.datetime(1970, 1, 1, 0, 0, 1), [], "x",
     decimal.Decimal("-0.01"), uuid.UUID(int=0), 7, "", []),
]
print("inserted", client.execute("INSERT INTO typed VALUES", rows))
got = client.execute("SELECT d, t, a, e, x, u, n, s, tags FROM typed ORDER BY d DESC")
print("same", got == rows)
if got != rows:
    print("got", got)
print("types", [type(v).__name__ for v in got[0]])
