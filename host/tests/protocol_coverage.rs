//! The coverage table in the protocol crate's docs (`crates/protocol/src/generated/coverage.md`,
//! generated from the WIT) lists every message type, names its Rust payload and a fixture that
//! exists.

use std::collections::BTreeSet;
use std::path::PathBuf;

use guildhost::protocol::{MessageType, QueueName};

const TABLE: &str = include_str!("../../crates/protocol/src/generated/coverage.md");

/// One row of the table: the cells of a `| `TYPE` | … |` line.
struct Row {
    type_name: String,
    kind: String,
    queue: String,
    rust_type: String,
    fixture: String,
}

/// The table rows for defined types (the first cell is a code span holding a type name).
fn rows() -> Vec<Row> {
    TABLE
        .lines()
        .filter_map(|line| line.strip_prefix('|'))
        .filter_map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let type_name = cells
                .first()?
                .strip_prefix('`')?
                .split('`')
                .next()?
                .to_owned();
            if !type_name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_')
            {
                return None;
            }
            let unquote = |cell: &str| {
                cell.trim_matches(|c| c == '`' || c == '[' || c == ']')
                    .to_owned()
            };
            Some(Row {
                type_name,
                kind: cells.get(1)?.to_string(),
                queue: unquote(cells.get(2)?),
                rust_type: unquote(cells.get(3)?),
                fixture: unquote(cells.get(4)?),
            })
        })
        .collect()
}

#[test]
fn the_table_lists_every_message_type_once() {
    let rows = rows();
    let listed: Vec<&str> = rows.iter().map(|row| row.type_name.as_str()).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed.len(), unique.len(), "a type is listed twice");
    let defined: BTreeSet<&str> = MessageType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        unique, defined,
        "the coverage table and MessageType::ALL differ"
    );
}

#[test]
fn every_row_matches_the_catalogue_and_names_an_existing_fixture() {
    let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"));
    for row in rows() {
        let message_type: MessageType = row.type_name.parse().expect("a defined type");
        let kind = if message_type.is_command() {
            "command"
        } else {
            "event"
        };
        assert_eq!(row.kind, kind, "{}: kind", row.type_name);
        assert_eq!(
            row.queue.parse::<QueueName>(),
            Ok(message_type.queue()),
            "{}: queue",
            row.type_name
        );
        // Payload structs are named like their `MessageType` variant (the table's links to them
        // are checked by rustdoc).
        assert_eq!(
            row.rust_type,
            format!("{message_type:?}"),
            "{}: Rust type",
            row.type_name
        );
        assert_eq!(
            row.fixture,
            format!("valid/{}.json", row.type_name),
            "{}: fixture",
            row.type_name
        );
        assert!(
            fixtures.join(&row.fixture).is_file(),
            "{}: {} is missing",
            row.type_name,
            row.fixture
        );
    }
}

#[test]
fn the_custom_row_names_an_existing_fixture() {
    let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"));
    let custom_row = TABLE
        .lines()
        .find(|line| line.starts_with("| any other `type`"))
        .expect("a row for custom types");
    let fixture = custom_row
        .split('`')
        .find(|cell| cell.starts_with("valid/custom/"))
        .expect("the custom row names a fixture");
    assert!(fixtures.join(fixture).is_file(), "{fixture} is missing");
}
