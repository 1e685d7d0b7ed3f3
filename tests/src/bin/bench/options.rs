//! The bench's command line: the throughput comparison's rows, partitions,
//! broker and `--only` subset, or the latency mode's rate and duration.

/// One way of getting the same rows into a table, compared by one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// A plain rdkafka consumer reading every partition to its end.
    Ceiling,
    /// The rows as one JSONEachRow body POSTed to ClickHouse 18.16.
    ChFile,
    /// The same body POSTed to kafkahouse on its embedded engine.
    EmbeddedFile,
    /// The rows as one JSONEachRow insert per partition's worth of rows
    /// into 18.16, two at a time: the parts kafkahouse's exactly-once
    /// blocks (one partition each) make, without Kafka or kafkahouse.
    ChParts,
    /// The same per-partition inserts into kafkahouse's embedded engine.
    EmbeddedParts,
    /// ClickHouse 18.16's own Kafka engine and a materialized view.
    ChKafka,
    /// kafkahouse consuming into that 18.16 server (remote backend).
    Remote,
    /// kafkahouse consuming into its embedded engine.
    Embedded,
    /// One kafkahouse on a shared catalog writing through the HTTP
    /// interface of a second one (the embedded engine): the baseline for
    /// `Service3`.
    Service1,
    /// Three kafkahouse instances in one group on a shared catalog, writing
    /// through the same backend kafkahouse.
    Service3,
}

impl Path {
    /// Every path, in the order a run measures them.
    pub const ALL: [Path; 10] = [
        Path::Ceiling,
        Path::ChFile,
        Path::EmbeddedFile,
        Path::ChParts,
        Path::EmbeddedParts,
        Path::ChKafka,
        Path::Remote,
        Path::Embedded,
        Path::Service1,
        Path::Service3,
    ];

    /// The name `--only` takes.
    pub fn name(self) -> &'static str {
        match self {
            Path::Ceiling => "ceiling",
            Path::ChFile => "ch-file",
            Path::EmbeddedFile => "embedded-file",
            Path::ChParts => "ch-parts",
            Path::EmbeddedParts => "embedded-parts",
            Path::ChKafka => "ch-kafka",
            Path::Remote => "remote",
            Path::Embedded => "embedded",
            Path::Service1 => "service-1",
            Path::Service3 => "service-3",
        }
    }

    /// What the report's table calls it.
    pub fn label(self) -> &'static str {
        match self {
            Path::Ceiling => "consume ceiling (rdkafka)",
            Path::ChFile => "ClickHouse 18.16 file insert",
            Path::EmbeddedFile => "embedded engine file insert",
            Path::ChParts => "18.16 per-partition inserts",
            Path::EmbeddedParts => "embedded per-partition inserts",
            Path::ChKafka => "ClickHouse 18.16 Kafka engine",
            Path::Remote => "kafkahouse -> 18.16",
            Path::Embedded => "kafkahouse embedded",
            Path::Service1 => "1 instance -> kafkahouse",
            Path::Service3 => "3 instances -> kafkahouse",
        }
    }

    /// Whether the path needs the ClickHouse 18.16 server.
    pub fn needs_clickhouse(self) -> bool {
        matches!(
            self,
            Path::ChFile | Path::ChParts | Path::ChKafka | Path::Remote
        )
    }

    /// Whether the path needs the rows as one JSONEachRow body.
    pub fn needs_body(self) -> bool {
        matches!(
            self,
            Path::ChFile | Path::EmbeddedFile | Path::ChParts | Path::EmbeddedParts
        )
    }
}

/// The throughput comparison: every selected path over the same rows.
pub struct Throughput {
    pub rows: u64,
    pub partitions: i32,
    pub tansu: bool,
    pub paths: Vec<Path>,
}

/// The latency mode: kafkahouse embedded, rows produced at a steady rate.
pub struct Latency {
    pub rate: u64,
    pub seconds: u64,
    pub partitions: i32,
    pub tansu: bool,
}

pub enum Mode {
    Throughput(Throughput),
    Latency(Latency),
}

pub const USAGE: &str =
    "usage: bench [--rows N] [--partitions P] [--broker mock|tansu] [--only a,b,...]
       bench --latency [--rate MSGS_PER_S] [--seconds S] [--partitions P] [--broker mock|tansu]
paths for --only: ceiling, ch-file, embedded-file, ch-parts, embedded-parts, ch-kafka,
  remote, embedded, service-1, service-3";

pub fn parse(args: impl Iterator<Item = String>) -> Result<Mode, String> {
    let mut args: Vec<String> = args.collect();
    let latency = match args.iter().position(|a| a == "--latency") {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    let mut rows = 200_000;
    let mut partitions = None;
    let mut tansu = false;
    let mut paths = Path::ALL.to_vec();
    let mut rate = 10_000;
    let mut seconds = 20;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let number = |what: &str| -> Result<u64, String> {
            value.parse().map_err(|e| format!("{what} {value}: {e}"))
        };
        match arg.as_str() {
            "--rows" if !latency => rows = number("--rows")?,
            "--only" if !latency => paths = only(&value)?,
            "--rate" if latency => rate = number("--rate")?.max(1),
            "--seconds" if latency => seconds = number("--seconds")?.max(1),
            "--partitions" => {
                let p = number("--partitions")?;
                partitions =
                    Some(i32::try_from(p.max(1)).map_err(|e| format!("--partitions: {e}"))?);
            }
            "--broker" => match value.as_str() {
                "mock" => tansu = false,
                "tansu" => tansu = true,
                other => return Err(format!("--broker: {other} is neither mock nor tansu")),
            },
            "--rows" | "--only" => return Err(format!("{arg} does not apply to --latency")),
            "--rate" | "--seconds" => return Err(format!("{arg} applies to --latency only")),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(if latency {
        Mode::Latency(Latency {
            rate,
            seconds,
            partitions: partitions.unwrap_or(8),
            tansu,
        })
    } else {
        Mode::Throughput(Throughput {
            rows,
            partitions: partitions.unwrap_or(64),
            tansu,
            paths,
        })
    })
}

/// `--only a,b,...`: the named paths, in the run's usual order.
fn only(list: &str) -> Result<Vec<Path>, String> {
    let mut wanted = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let path = Path::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or(format!("--only: no path named {name}\n{USAGE}"))?;
        wanted.push(path);
    }
    if wanted.is_empty() {
        return Err(format!("--only needs at least one path\n{USAGE}"));
    }
    Ok(Path::ALL
        .into_iter()
        .filter(|p| wanted.contains(p))
        .collect())
}
