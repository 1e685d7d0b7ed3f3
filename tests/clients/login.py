"""Logs in to kafkahouse with a Python client and runs `SELECT 1`.
Usage: driver|connect HOST PORT USER PASSWORD [CA_FILE]. With CA_FILE the
client uses TLS and trusts that certificate. Prints `ok 1`, or
`error CODE` and the server's message."""
import sys

kind, host, port, user, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ca = sys.argv[6] if len(sys.argv) > 6 else None
try:
    if kind == "driver":
        from clickhouse_driver import Client

        tls = {"secure": True, "verify": True, "ca_certs": ca} if ca else {}
        print("ok", Client(host=host, port=port, user=user, password=password, **tls).execute("SELECT 1")[0][0])
    else:
        import clickhouse_connect

        tls = {"secure": True, "verify": True, "ca_cert": ca} if ca else {}
        client = clickhouse_connect.get_client(host=host, port=port, username=user, password=password, **tls)
        print("ok", client.query("SELECT 1").result_rows[0][0])
except Exception as e:  # the client's own exception type, whatever it is
    code = getattr(e, "code", None)
    print("error", code, str(e).replace("\n", " "))
