"""The tutorial's statements through clickhouse-connect (ClickHouse's Python
HTTP client), against kafkahouse. Usage: HOST PORT BROKER DDL_FILE QUEUE_FILE.
Prints one line per check; exits non-zero on the first failure."""
import sys

import clickhouse_connect

host, port, broker, ddl_file, queue_file = sys.argv[1:6]
client = clickhouse_connect.get_client(host=host, port=int(port))
client.command("CREATE DATABASE KafkaEngine")
client = clickhouse_connect.get_client(host=host, port=int(port), database="KafkaEngine")
client.command(open(ddl_file).read())
client.command(open(queue_file).read().replace("BROKER", broker))
client.command("CREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *\nFROM github_queue;")
client.command("SYSTEM SYNC KAFKA github_queue TIMEOUT 60")
print("count", client.query("SELECT count() FROM github").result_rows[0][0])
client.command("INSERT INTO github_queue SELECT * FROM github LIMIT 100 FORMAT JSONEachRow")
client.command("SYSTEM SYNC KAFKA github_queue TIMEOUT 60")
print("count", client.query("SELECT count() FROM github").result_rows[0][0])
# kafkahouse's own result, asked for in clickhouse-connect's Native format.
consumers = client.query("SELECT table, num_messages_read FROM system.kafka_consumers")
print("consumers", consumers.result_rows)
# An error comes back as ClickHouse's exception.
try:
    client.command("CREATE TABLE bad (id UInt64) ENGINE = Kafka('b:1', 't', 'g')")
except clickhouse_connect.driver.exceptions.DatabaseError as e:
    print("error", "Code: 36" in str(e))
