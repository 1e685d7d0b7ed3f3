"""clickhouse-driver's typed INSERT of Map, Tuple, Bool and Int128 values
into a Kafka table (announced with their types, the driver's Native blocks
staged and produced). Usage: HOST PORT TABLE. Prints how many rows."""
import sys

from clickhouse_driver import Client

host, port, table = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = Client(host=host, port=port)
rows = [
    (1, {"a": 1, "b": 2}, (7, "x"), True, -(2**127)),
    (2, {}, (0, ""), False, 5),
]
print("inserted", client.execute(f"INSERT INTO {table} VALUES", rows))
