"""Logs in to kafkahouse with a Python client and runs `SELECT 1`.
Usage: driver|connect HOST PORT USER PASSWORD. Prints `ok 1`, or
`error CODE` and the server's message."""
import sys

kind, host, port, user, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
try:
    if kind == "driver":
        from clickhouse_driver import Client

        print("ok", Client(host=host, port=port, user=user, password=password).execute("SELECT 1")[0][0])
    else:
        import clickhouse_connect

        client = clickhouse_connect.get_client(host=host, port=port, username=user, password=password)
        print("ok", client.query("SELECT 1").result_rows[0][0])
except Exception as e:  # the client's own exception type, whatever it is
    code = getattr(e, "code", None)
    print("error", code, str(e).replace("\n", " "))
