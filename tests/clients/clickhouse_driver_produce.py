"""clickhouse-driver's typed INSERT into a Kafka table (kafkahouse produces
the rows): dates, times, enums, decimals and lists as Python values.
Usage: HOST PORT TABLE. Prints how many rows were inserted."""
import datetime
import decimal
import sys

from clickhouse_driver import Client

host, port, table = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = Client(host=host, port=port)
rows = [
    (1, datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5), "y",
     decimal.Decimal("12.50"), [1, 2], None),
    (2, datetime.date(1970, 1, 2), datetime.datetime(1970, 1, 1, 0, 0, 1), "x",
     decimal.Decimal("-0.01"), [], 7),
]
print("inserted", client.execute(f"INSERT INTO {table} VALUES", rows))
