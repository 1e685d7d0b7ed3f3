//! PostgreSQL input for `fuzz_pg_decoder`: startup, SSL and regular
//! messages with true and false lengths and counts, and the decoding of
//! them with pgwire's own decoders.

use super::*;

// ---------------------------------------------------------------------------
// PostgreSQL: pgwire's frontend message decoder.

/// Where in the connection the decoder starts.
#[derive(Debug, Clone, Copy)]
pub(super) enum PgPhase {
    /// Right after connecting: SSLRequest, GSSENCRequest, startup or cancel.
    Ssl,
    /// After SSL negotiation: startup or cancel.
    Startup,
    /// After startup: regular messages.
    Ready,
}

/// What to put in a message's length field.
#[derive(Debug, Clone)]
pub(super) enum PgLength {
    Correct,
    Off(i8),
    Told(u32),
}

impl PgLength {
    pub(super) fn value(&self, correct: usize) -> u32 {
        match self {
            PgLength::Correct => correct as u32,
            PgLength::Off(d) => (correct as i64 + i64::from(*d)) as u32,
            PgLength::Told(n) => *n,
        }
    }
}

pub(super) fn pg_length() -> impl Strategy<Value = PgLength> {
    prop_oneof![
        8 => Just(PgLength::Correct),
        2 => (-6i8..6).prop_map(PgLength::Off),
        2 => interesting_length().prop_map(|n| PgLength::Told(n as u32)),
    ]
}

pub(super) fn cstring() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => sql::script().prop_map(|s| [s.into_bytes(), vec![0]].concat()),
        2 => "[a-z_]{0,10}".prop_map(|s| [s.into_bytes(), vec![0]].concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => Just(vec![0]),
        1 => Just(Vec::new()),
    ]
}

pub(super) fn be16(n: u16) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// A count as written, and as many items as it claims or not.
pub(super) fn count_and<T: std::fmt::Debug + Clone>(
    item: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = (u16, Vec<T>)> {
    prop_oneof![
        3 => proptest::collection::vec(item.clone(), 0..6).prop_map(|v| (v.len() as u16, v)),
        1 => (any::<u16>(), proptest::collection::vec(item, 0..4)),
    ]
}

/// The body of a frontend message of type `kind`, as parts of it.
pub(super) fn pg_body(kind: u8) -> BoxedStrategy<Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..64);
    match kind {
        b'Q' | b'f' | b'p' => prop_oneof![4 => cstring(), 1 => random].boxed(),
        b'P' => (cstring(), cstring(), count_and(any::<u32>()))
            .prop_map(|(name, query, (n, oids))| {
                let mut b = [name, query, be16(n)].concat();
                for oid in oids {
                    b.extend(oid.to_be_bytes());
                }
                b
            })
            .boxed(),
        b'B' => {
            let parameter = prop_oneof![
                3 => proptest::collection::vec(any::<u8>(), 0..12).prop_map(|v| (v.len() as i32, v)),
                1 => Just((-1, Vec::new())),
                1 => (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..8)),
            ];
            (
                cstring(),
                cstring(),
                count_and(any::<i16>()),
                count_and(parameter),
                count_and(any::<i16>()),
                any::<bool>(),
            )
                .prop_map(|(portal, statement, (nf, formats), (np, params), (nr, results), cut)| {
                    let mut b = [portal, statement, be16(nf)].concat();
                    for f in formats {
                        b.extend(f.to_be_bytes());
                    }
                    b.extend(be16(np));
                    for (len, bytes) in params {
                        b.extend(len.to_be_bytes());
                        b.extend(bytes);
                    }
                    if !cut {
                        b.extend(be16(nr));
                        for r in results {
                            b.extend(r.to_be_bytes());
                        }
                    }
                    b
                })
                .boxed()
        }
        b'D' | b'C' => (select(&[b'S', b'P', b'X', 0][..]), cstring())
            .prop_map(|(target, name)| [vec![target], name].concat())
            .boxed(),
        b'E' => (cstring(), any::<i32>())
            .prop_map(|(portal, rows)| [portal, rows.to_be_bytes().to_vec()].concat())
            .boxed(),
        b'H' | b'S' | b'X' | b'c' => prop_oneof![3 => Just(Vec::new()), 1 => random].boxed(),
        _ => random.boxed(),
    }
}

/// One message after startup: type, length, body.
pub(super) fn pg_message() -> impl Strategy<Value = Vec<u8>> {
    select(&[b'Q', b'P', b'B', b'D', b'C', b'E', b'H', b'S', b'X', b'd', b'f', b'c', b'p', b'Z', 0, 0xFF][..])
        .prop_flat_map(|kind| (Just(kind), pg_length(), pg_body(kind)))
        .prop_map(|(kind, length, body)| {
            let mut m = vec![kind];
            m.extend(length.value(body.len() + 4).to_be_bytes());
            m.extend(body);
            m
        })
}

/// A message without a type byte: SSLRequest, GSSENCRequest, startup, cancel.
pub(super) fn pg_startup() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        select(&[196_608i32, 196_610, 196_609, 80_877_103, 80_877_104, 80_877_102, 0, -1][..]),
        any::<i32>(),
    ];
    let parameters = proptest::collection::vec(
        (
            prop_oneof![
                select(&["user", "database", "options", "application_name", "client_encoding", "replication", "_pq_.x"][..])
                    .prop_map(str::to_string),
                "[a-z_]{0,8}",
            ],
            prop_oneof!["[a-z]{0,8}", sql::non_ascii(), sql::lossy_bytes()],
        ),
        0..5,
    );
    (pg_length(), code, parameters, proptest::collection::vec(any::<u8>(), 0..16), any::<bool>()).prop_map(
        |(length, code, parameters, cancel_key, terminate)| {
            let mut body = code.to_be_bytes().to_vec();
            if code == 80_877_102 {
                body.extend(cancel_key);
            } else if code != 80_877_103 && code != 80_877_104 {
                for (k, v) in parameters {
                    body.extend(k.as_bytes());
                    body.push(0);
                    body.extend(v.as_bytes());
                    body.push(0);
                }
                if terminate {
                    body.push(0);
                }
            }
            let mut m = length.value(body.len() + 4).to_be_bytes().to_vec();
            m.extend(body);
            m
        },
    )
}

#[derive(Debug, Clone)]
pub(super) struct PgCase {
    pub(super) phase: PgPhase,
    pub(super) protocol_3_2: bool,
    pub(super) input: Bytes,
}

pub(super) fn pg_case() -> impl Strategy<Value = PgCase> {
    let phase = select(&[PgPhase::Ssl, PgPhase::Startup, PgPhase::Ready][..]);
    let messages = prop_oneof![
        6 => (
            proptest::collection::vec(pg_startup(), 0..3),
            proptest::collection::vec(pg_message(), 0..6),
            proptest::collection::vec(any::<u8>(), 0..8),
        )
            .prop_map(|(startup, messages, tail)| [startup.concat(), messages.concat(), tail].concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ];
    (phase, any::<bool>(), messages).prop_map(|(phase, protocol_3_2, input)| PgCase {
        phase,
        protocol_3_2,
        input: Bytes(input),
    })
}

/// Decodes messages off the input as pgwire's server codec does, moving
/// through the connection's phases, until the decoder wants more bytes or
/// refuses them.
pub(super) fn pg_decode_all(case: &PgCase) -> Result<(), TestCaseError> {
    use pgwire::messages::{DecodeContext, PgWireFrontendMessage, ProtocolVersion};
    let version = if case.protocol_3_2 {
        ProtocolVersion::PROTOCOL3_2
    } else {
        ProtocolVersion::PROTOCOL3_0
    };
    let mut ctx = DecodeContext::new(version);
    match case.phase {
        PgPhase::Ssl => {}
        PgPhase::Startup => ctx.awaiting_frontend_ssl = false,
        PgPhase::Ready => {
            ctx.awaiting_frontend_ssl = false;
            ctx.awaiting_frontend_startup = false;
        }
    }
    let mut buf = bytes::BytesMut::from(&case.input.0[..]);
    for _ in 0..10_000 {
        let before = buf.len();
        let phase_changes = ctx.awaiting_frontend_ssl || ctx.awaiting_frontend_startup;
        match PgWireFrontendMessage::decode(&mut buf, &ctx) {
            Ok(Some(message)) => {
                match message {
                    PgWireFrontendMessage::SslNegotiation(_) => ctx.awaiting_frontend_ssl = false,
                    PgWireFrontendMessage::Startup(_) | PgWireFrontendMessage::CancelRequest(_) => {
                        ctx.awaiting_frontend_startup = false
                    }
                    _ => {}
                }
                // The codec is called again at once after a message: one that
                // consumed nothing, outside a phase change, would be read forever.
                check(buf.len() < before || phase_changes, || {
                    "a message was decoded from no bytes: the server would loop".into()
                })?;
            }
            Ok(None) | Err(_) => return Ok(()),
        }
    }
    Ok(())
}
