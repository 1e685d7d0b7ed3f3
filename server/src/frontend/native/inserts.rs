//! Rows a native-protocol client sends as blocks for an INSERT (`INSERT ...
//! VALUES` typed into clickhouse-client, a driver's typed insert): the
//! header that tells the client the columns and their types, the client's
//! blocks read up to the empty one that ends them, and the insert. Three
//! ways, the best one the table and types allow:
//! - typed header, blocks passed to the backend as Native (ClickHouse
//!   tables whose types travel as they are, or any on the embedded engine);
//! - typed header, blocks read back as text (Kafka tables, ClickHouse 18.x
//!   tables with LowCardinality or a DateTime with a zone);
//! - header with the real types, blocks read as bytes and passed on as
//!   Native (types opensrv-clickhouse cannot carry: Map, Int128, ...),
//!   into a table or, staged, into a Kafka table.
//!
//! Uses the frontend's typed columns, the session and the planner.

use opensrv_clickhouse::connection::Connection;
use opensrv_clickhouse::errors::Error as NativeError;
use opensrv_clickhouse::types::Block;
use opensrv_clickhouse::CHContext;

use catalog::ChType;

use super::{cells, passthrough, typed, Failure};
use crate::error::{codes, ChError};
use crate::executor::ClientSession;

/// How a column travels in the blocks the client sends: types the client
/// can parse VALUES and JSON into, and kafkahouse can read back as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
    NullableText,
    IntArray,
    FloatArray,
    TextArray,
}

fn wire_of(ty: &ChType) -> Wire {
    let numeric = |t: &ChType| match t {
        ChType::UInt8 => Some(Wire::U8),
        ChType::UInt16 => Some(Wire::U16),
        ChType::UInt32 => Some(Wire::U32),
        ChType::UInt64 => Some(Wire::U64),
        ChType::Int8 => Some(Wire::I8),
        ChType::Int16 => Some(Wire::I16),
        ChType::Int32 => Some(Wire::I32),
        ChType::Int64 => Some(Wire::I64),
        ChType::Float32 => Some(Wire::F32),
        ChType::Float64 => Some(Wire::F64),
        _ => None,
    };
    match ty {
        ChType::Nullable(_) => Wire::NullableText,
        ChType::LowCardinality(inner) => wire_of(inner),
        ChType::Array(inner) => match numeric(inner.value_type()) {
            Some(Wire::F32 | Wire::F64) => Wire::FloatArray,
            Some(_) => Wire::IntArray,
            None => Wire::TextArray,
        },
        other => numeric(other).unwrap_or(Wire::Text),
    }
}

/// The header block that tells the client which columns to send.
fn header_block(columns: &[(String, Wire)]) -> Block {
    let mut block = Block::new();
    for (name, wire) in columns {
        block = match wire {
            Wire::U8 => block.column(name, Vec::<u8>::new()),
            Wire::U16 => block.column(name, Vec::<u16>::new()),
            Wire::U32 => block.column(name, Vec::<u32>::new()),
            Wire::U64 => block.column(name, Vec::<u64>::new()),
            Wire::I8 => block.column(name, Vec::<i8>::new()),
            Wire::I16 => block.column(name, Vec::<i16>::new()),
            Wire::I32 => block.column(name, Vec::<i32>::new()),
            Wire::I64 => block.column(name, Vec::<i64>::new()),
            Wire::F32 => block.column(name, Vec::<f32>::new()),
            Wire::F64 => block.column(name, Vec::<f64>::new()),
            Wire::Text => block.column(name, Vec::<String>::new()),
            Wire::NullableText => block.column(name, Vec::<Option<String>>::new()),
            Wire::IntArray => block.column(name, Vec::<Vec<i64>>::new()),
            Wire::FloatArray => block.column(name, Vec::<Vec<f64>>::new()),
            Wire::TextArray => block.column(name, Vec::<Vec<String>>::new()),
        };
    }
    block
}

/// One value of a received block as TabSeparated text.
fn tsv_value(block: &Block, row: usize, column: usize, wire: Wire) -> Result<String, ChError> {
    let bad = |e: opensrv_clickhouse::errors::Error| {
        ChError::new(
            codes::INCORRECT_DATA,
            format!("Cannot read the client's block: {e}"),
        )
    };
    let text = |v: String| catalog::quote::tsv(&v);
    let quoted = |v: &String| catalog::quote::string(v);
    Ok(match wire {
        Wire::U8 => block.get::<u8, _>(row, column).map_err(bad)?.to_string(),
        Wire::U16 => block.get::<u16, _>(row, column).map_err(bad)?.to_string(),
        Wire::U32 => block.get::<u32, _>(row, column).map_err(bad)?.to_string(),
        Wire::U64 => block.get::<u64, _>(row, column).map_err(bad)?.to_string(),
        Wire::I8 => block.get::<i8, _>(row, column).map_err(bad)?.to_string(),
        Wire::I16 => block.get::<i16, _>(row, column).map_err(bad)?.to_string(),
        Wire::I32 => block.get::<i32, _>(row, column).map_err(bad)?.to_string(),
        Wire::I64 => block.get::<i64, _>(row, column).map_err(bad)?.to_string(),
        Wire::F32 => block.get::<f32, _>(row, column).map_err(bad)?.to_string(),
        Wire::F64 => block.get::<f64, _>(row, column).map_err(bad)?.to_string(),
        Wire::Text => text(block.get::<String, _>(row, column).map_err(bad)?),
        Wire::NullableText => match block.get::<Option<String>, _>(row, column).map_err(bad)? {
            Some(v) => text(v),
            None => "\\N".to_string(),
        },
        Wire::IntArray => {
            let v: Vec<i64> = block.get(row, column).map_err(bad)?;
            format!(
                "[{}]",
                v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            )
        }
        Wire::FloatArray => {
            let v: Vec<f64> = block.get(row, column).map_err(bad)?;
            format!(
                "[{}]",
                v.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
            )
        }
        Wire::TextArray => {
            let v: Vec<String> = block.get(row, column).map_err(bad)?;
            text(format!(
                "[{}]",
                v.iter().map(quoted).collect::<Vec<_>>().join(",")
            ))
        }
    })
}

/// `INSERT ... VALUES` / `FORMAT` typed into the client: sends the header,
/// reads the client's blocks up to the empty one that ends them, and inserts
/// the rows through the same path as every other INSERT (Kafka tables and
/// view sources included). Any error reaches the client as an exception.
pub(super) async fn insert_client_data(
    session: &mut ClientSession,
    ctx: &mut CHContext,
    connection: &mut Connection,
    statement: &planner::Statement<'_>,
    table: &planner::ObjectName,
    listed: &[String],
) -> Result<(), Failure> {
    let typed = session.insert_columns(table, listed).await?;
    let target = &statement.sql[planner::insert_target_span(statement.sql).ok_or_else(|| {
        ChError::new(codes::SYNTAX_ERROR, "Syntax error: INSERT without a table")
    })?];
    let names: Vec<String> = typed
        .iter()
        .map(|(n, _)| catalog::quote::identifier(n))
        .collect();
    let insert = format!("INSERT INTO {target} ({})", names.join(", "));
    if let Some(header) = typed::header(&typed) {
        // The embedded engine converts what was announced simplified
        // (LowCardinality as its values, DateTime without its zone);
        // ClickHouse 18.x does not, so it gets exact types or text.
        let exact = typed
            .iter()
            .all(|(_, ty)| typed::native_type(ty).as_deref() == Some(ty.to_string().as_str()));
        if !session.handles_inserts_into(table) && (exact || session.backend_is_embedded()) {
            connection.write_block(&header).await?;
            let mut native = Vec::new();
            read_blocks(ctx, connection, |block| {
                native.extend(typed::native_data(block));
                Ok(())
            })
            .await?;
            if !native.is_empty() {
                session.insert_data(&insert, "Native", native).await?;
            }
            return Ok(());
        }
        if typed.iter().all(|(_, ty)| cells::readable_as_text(ty)) {
            connection.write_block(&header).await?;
            let mut tsv = String::new();
            read_blocks(ctx, connection, |block| {
                for row in 0..block.row_count() {
                    for (i, (name, ty)) in typed.iter().enumerate() {
                        let value = cells::text_cell(block, row, i, ty).ok_or_else(|| {
                            ChError::new(
                                codes::INCORRECT_DATA,
                                format!("Cannot read column {name} ({ty}) of the client's block"),
                            )
                        })?;
                        if i > 0 {
                            tsv.push('\t');
                        }
                        tsv.push_str(&value);
                    }
                    tsv.push('\n');
                }
                Ok(())
            })
            .await?;
            if tsv.is_empty() {
                return Ok(());
            }
            return insert_rows(session, statement, table, &insert, tsv).await;
        }
    }
    if typed::header(&typed).is_none() {
        return insert_raw(session, ctx, connection, (table, &insert), &typed).await;
    }
    let columns: Vec<(String, Wire)> = typed
        .iter()
        .map(|(name, ty)| (name.clone(), wire_of(ty)))
        .collect();
    // Columns sent as text whose type is not text (dates, enums, ...): the
    // client fills a field missing from its input (a JSON row without it)
    // with an empty string, which must become the column's default.
    let text_for_other: Vec<bool> = typed
        .iter()
        .map(|(_, ty)| {
            wire_of(ty) == Wire::Text
                && !matches!(ty.value_type(), ChType::String | ChType::FixedString(_))
        })
        .collect();
    let mut empty_as_default = false;
    connection.write_block(&header_block(&columns)).await?;
    let mut tsv = String::new();
    read_blocks(ctx, connection, |block| {
        for row in 0..block.row_count() {
            let values = columns
                .iter()
                .enumerate()
                .map(|(i, (_, wire))| tsv_value(block, row, i, *wire))
                .collect::<Result<Vec<_>, _>>()?;
            empty_as_default |= values
                .iter()
                .zip(&text_for_other)
                .any(|(v, other)| *other && v.is_empty());
            tsv.push_str(&values.join("\t"));
            tsv.push('\n');
        }
        Ok(())
    })
    .await?;
    if tsv.is_empty() {
        return Ok(());
    }
    let mut insert = insert;
    // Only when needed: servers before 19.x do not know the setting.
    if empty_as_default {
        insert.push_str(" SETTINGS input_format_tsv_empty_as_default = 1");
    }
    insert_rows(session, statement, table, &insert, tsv).await
}

/// Types opensrv-clickhouse cannot carry (Map, Tuple, Bool, Int128 ...)
/// into a ClickHouse table: the header announces them as they are, and the
/// client's blocks are read as bytes and passed to the backend as Native.
async fn insert_raw(
    session: &mut ClientSession,
    ctx: &mut CHContext,
    connection: &mut Connection,
    (table, insert): (&planner::ObjectName, &str),
    columns: &[(String, ChType)],
) -> Result<(), Failure> {
    let (revision, compress) = (ctx.client_revision, ctx.state.compression > 0);
    let header = passthrough::header(columns);
    connection
        .write_bytes(passthrough::data_packet(&header, revision, compress))
        .await?;
    let with_info = passthrough::has_block_info(revision);
    connection.read_raw_blocks(Some(std::sync::Arc::new(
        move |from: &mut dyn std::io::Read| passthrough::read_block(from, with_info),
    )));
    let read = read_raw_blocks(ctx, connection).await;
    connection.read_raw_blocks(None);
    let native = read?;
    if native.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = columns
        .iter()
        .map(|(n, _)| catalog::quote::identifier(n))
        .collect();
    let columns_sql = format!("({})", names.join(", "));
    if session.handles_inserts_into(table) {
        // A Kafka table (produced) or the source of views into one.
        session
            .insert_rows_into(table, &columns_sql, "Native", native)
            .await?;
    } else {
        session.insert_data(insert, "Native", native).await?;
    }
    Ok(())
}

/// The client's blocks as Native bytes, as `read_blocks` reads them (the
/// end of its external tables may have been parsed before raw mode).
async fn read_raw_blocks(
    ctx: &mut CHContext,
    connection: &mut Connection,
) -> Result<Vec<u8>, Failure> {
    let mut native = Vec::new();
    read_packets(ctx, connection, |received| match received {
        Received::Raw(block) => {
            native.extend(block);
            Ok(())
        }
        Received::Block(_) => Err(unexpected_block()),
    })
    .await?;
    Ok(native)
}

/// A block the client sent: parsed, or as its Native bytes while the
/// connection reads raw blocks.
enum Received {
    Block(Block),
    Raw(Vec<u8>),
}

fn unexpected_block() -> ChError {
    ChError::new(
        codes::UNEXPECTED_PACKET_FROM_CLIENT,
        "Unexpected packet from the client while it was sending INSERT data",
    )
}

/// What a packet other than Data in the middle of INSERT data is: another
/// packet (`other`), or the client gone.
fn not_data(other: bool) -> Failure {
    if other {
        Failure::Query(unexpected_block())
    } else {
        Failure::Connection(NativeError::IO(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the client left in the middle of its INSERT data",
        )))
    }
}

/// The client's blocks after the header: first the (empty) end of its
/// external tables, then the data, then an empty block. Each non-empty
/// block goes to `take`.
async fn read_blocks(
    ctx: &mut CHContext,
    connection: &mut Connection,
    mut take: impl FnMut(&Block) -> Result<(), ChError>,
) -> Result<(), Failure> {
    read_packets(ctx, connection, |received| match received {
        Received::Block(block) => take(&block),
        Received::Raw(_) => Err(unexpected_block()),
    })
    .await
}

/// The client's Data packets after the header, up to the empty block that
/// ends them (the first empty one ends its external tables); each non-empty
/// one goes to `take`.
async fn read_packets(
    ctx: &mut CHContext,
    connection: &mut Connection,
    mut take: impl FnMut(Received) -> Result<(), ChError>,
) -> Result<(), Failure> {
    use opensrv_clickhouse::protocols::Packet;
    let mut empty_blocks = 0;
    while empty_blocks < 2 {
        let (rows, received) = match connection.read_packet(ctx).await? {
            Some(Packet::Data(block)) => (block.row_count() as u64, Received::Block(block)),
            Some(Packet::RawData(bytes)) => (passthrough::rows_of(&bytes), Received::Raw(bytes)),
            other => return Err(not_data(other.is_some())),
        };
        if rows == 0 {
            empty_blocks += 1;
            continue;
        }
        // The data started: the external tables' end was skipped.
        empty_blocks = empty_blocks.max(1);
        take(received)?;
    }
    Ok(())
}

async fn insert_rows(
    session: &mut ClientSession,
    statement: &planner::Statement<'_>,
    table: &planner::ObjectName,
    insert: &str,
    tsv: String,
) -> Result<(), Failure> {
    if session.handles_inserts_into(table) {
        let query = format!("{insert} FORMAT TabSeparated");
        let sql = format!("{query}\n{tsv}");
        session
            .execute(&planner::Statement {
                sql: &sql,
                query: &sql[..query.len()],
                kind: statement.kind.clone(),
            })
            .await?;
    } else {
        session
            .insert_data(insert, "TabSeparated", tsv.into_bytes())
            .await?;
    }
    Ok(())
}
