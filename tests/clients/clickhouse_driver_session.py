"""A session through clickhouse-driver (Python's native-protocol client)
against kafkahouse. Usage: HOST PORT. Prints one line per check."""
import sys

from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

host, port = sys.argv[1], int(sys.argv[2])
client = Client(host=host, port=port)
client.execute("CREATE DATABASE driver_db")
client.execute("USE driver_db")
client.execute("CREATE TABLE t (a UInt32, s String, f Float64, n Nullable(Int64)) ENGINE = MergeTree ORDER BY a")
client.execute("INSERT INTO t SELECT number, toString(number), number / 2, if(number = 1, NULL, number) FROM numbers(3)")
print("rows", client.execute("SELECT a, s, f, n FROM t ORDER BY a"))
try:
    client.execute("SELECT * FROM no_such_table")
except ServerException as e:
    print("error", e.code)
# The session keeps its database after the error.
print("database", client.execute("SELECT currentDatabase()"))
