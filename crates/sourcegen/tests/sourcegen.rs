//! Writes the message lists of the other crates from `wit/types.wit`, and fails when one of them
//! was stale (after rewriting it: run again to accept). See `wit/README.md` for the WIT side.
//!
//! The source is `variant message` in `wit/types.wit`: each case's doc comment starts with
//! `WIRE_NAME: command|event on queue:name.`, and `// carried-as-custom: WIRE_NAME kind on queue.`
//! lines between the cases declare the defined types that have no case of their own in this WIT
//! version (plugins see them as `custom`). Their order is the order of the protocol's lists.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wit_parser::{Resolve, Type, TypeDefKind, TypeId};

/// Protocol types whose name is not the WIT type's name in UpperCamelCase (paths under
/// `guildhost_protocol`, written as the host's conversions name them).
const PROTOCOL_TYPES: &[(&str, &str)] = &[
    ("nickname-change", "p::OptionalChange<String>"),
    ("timeout-change", "p::OptionalChange<p::Timestamp>"),
    ("text-change", "p::Change<String>"),
    ("duration-change", "p::OptionalChange<p::JsNumber>"),
    ("notice-kind", "p::NoticeType"),
    ("broadcast-kind", "p::BroadcastType"),
    // `priority` is also the envelope's (`p::Priority`, converted by hand with the envelope);
    // inside a message it is only a broadcast's.
    ("priority", "p::BroadcastPriority"),
];

/// Record fields whose protocol field is not the WIT field in snake_case, or whose JSON name is
/// not the WIT field in lowerCamelCase: (record, WIT field, protocol field, JSON name).
const PROTOCOL_FIELDS: &[(&str, &str, &str, &str)] = &[
    ("created-channel", "kind", "channel_type", "type"),
    ("moderation-case", "case-type", "case_type", "type"),
    ("user-notice", "kind", "notice_type", "type"),
    ("broadcast", "kind", "broadcast_type", "type"),
];

/// WIT variants (other than `message`) whose conversion is written by hand in the host.
const HAND_WRITTEN: &[&str] = &["channel-type"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Command,
    Event,
}

/// One message type: a case of `variant message`, or a type carried as `custom`.
#[derive(Debug)]
struct Entry {
    /// `SEND_MESSAGE`.
    wire: String,
    kind: Kind,
    /// `bot:commands`.
    queue: String,
    /// The free text after the structured part.
    doc: String,
    /// The WIT case (`send-message`) and its record, or `None` when carried as `custom`.
    case: Option<(String, TypeId)>,
}

impl Entry {
    /// `Seed` or `Extension`, from the start of the free text: `Seed command: …`, `Seed event: …`,
    /// or `guildhost extension command: …` (`check_list` refuses anything else).
    fn origin(&self) -> &'static str {
        if self.doc.starts_with("guildhost extension ") {
            "Extension"
        } else {
            "Seed"
        }
    }

    /// The protocol's name of the type: `SendMessage` (also the WIT case's Rust name).
    fn variant(&self) -> String {
        self.wire
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                let first = chars.next().expect("no empty word in a wire name");
                first.to_string() + &chars.as_str().to_lowercase()
            })
            .collect()
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `send-message` → `SendMessage`.
fn upper_camel(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `channel-id` → `channelId`.
fn lower_camel(kebab: &str) -> String {
    let upper = upper_camel(kebab);
    let mut chars = upper.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `channel-id` → `channel_id`.
fn snake(kebab: &str) -> String {
    kebab.replace('-', "_")
}

/// `bot:commands` → `BotCommands`.
fn queue_variant(queue: &str) -> String {
    queue.split(':').map(upper_camel).collect()
}

/// Parses `WIRE: kind on queue. free text` (the structured start of a case's doc) or
/// `WIRE kind on queue. free text` (after `carried-as-custom:`).
fn parse_structured(text: &str, what: &str) -> (String, Kind, String, String) {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let fail = || -> ! {
        panic!("{what}: expected `WIRE_NAME: command|event on queue:name.` to start {text:?}")
    };
    // `WIRE: kind` in a case's doc, `WIRE kind` on a carried-as-custom line.
    let (wire, rest) = text.split_once(' ').unwrap_or_else(|| fail());
    let wire = wire.strip_suffix(':').unwrap_or(wire);
    let is_wire = !wire.is_empty()
        && wire
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !is_wire {
        fail();
    }
    let (kind, rest) = rest.split_once(" on ").unwrap_or_else(|| fail());
    let kind = match kind {
        "command" => Kind::Command,
        "event" => Kind::Event,
        _ => fail(),
    };
    let (queue, doc) = rest.split_once('.').unwrap_or_else(|| fail());
    if queue.is_empty() || !queue.chars().all(|c| c.is_ascii_lowercase() || c == ':') {
        fail();
    }
    (
        wire.to_owned(),
        kind,
        queue.to_owned(),
        doc.trim().to_owned(),
    )
}

/// A case's docs without the carried-as-custom lines above it (wit-parser keeps every comment
/// before an item as its docs, `//` ones too).
fn own_docs(docs: &str) -> String {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut own = Vec::new();
    let mut carried_indent = None;
    for line in docs.lines() {
        if line.trim_start().starts_with("carried-as-custom:") {
            carried_indent = Some(indent(line));
        } else if carried_indent.is_some_and(|carried| indent(line) > carried) {
            // A continuation of the carried-as-custom line.
        } else {
            carried_indent = None;
            own.push(line);
        }
    }
    own.join("\n")
}

/// The WIT package and the message list.
struct Wit {
    resolve: Resolve,
    entries: Vec<Entry>,
}

fn load() -> Wit {
    let dir = root().join("wit");
    let mut resolve = Resolve::default();
    resolve
        .push_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error:?}", dir.display()));
    let interface = resolve
        .interfaces
        .iter()
        .find(|(_, interface)| interface.name.as_deref() == Some("types"))
        .map(|(_, interface)| interface)
        .expect("wit/ defines interface `types`");
    let types: BTreeMap<String, TypeId> = interface
        .types
        .iter()
        .map(|(name, id)| (name.clone(), *id))
        .collect();
    let message = types["message"];
    let TypeDefKind::Variant(variant) = &resolve.types[message].kind else {
        panic!("`message` is not a variant");
    };

    // The cases with their docs, from the parser; their order and the carried-as-custom lines
    // between them, from the text (the parser keeps no plain comments).
    let mut cases = BTreeMap::new();
    for case in &variant.cases {
        if case.name == "custom" {
            continue;
        }
        let docs = own_docs(case.docs.contents.as_deref().unwrap_or_default());
        let (wire, kind, queue, doc) = parse_structured(&docs, &format!("case `{}`", case.name));
        let Some(Type::Id(record)) = case.ty else {
            panic!("case `{}` carries no record", case.name);
        };
        cases.insert(case.name.clone(), (wire, kind, queue, doc, record));
    }
    let text = std::fs::read_to_string(dir.join("types.wit")).expect("wit/types.wit");
    let body = text
        .split_once("variant message {")
        .expect("types.wit has `variant message {`")
        .1;
    let body = body
        .split_once("\n    }")
        .expect("`variant message` ends")
        .0;
    let mut entries = Vec::new();
    let mut order = Vec::new();
    let mut lines = body.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("// carried-as-custom:") {
            let mut text = rest.to_owned();
            while let Some(more) = lines.next_if(|l| l.starts_with("//") && !l.starts_with("///")) {
                if more.starts_with("// carried-as-custom:") {
                    panic!("one carried-as-custom line per type: {more:?} follows {rest:?}");
                }
                text.push(' ');
                text.push_str(more.trim_start_matches('/'));
            }
            let (wire, kind, queue, doc) = parse_structured(&text, "carried-as-custom line");
            entries.push(Entry {
                wire,
                kind,
                queue,
                doc,
                case: None,
            });
        } else if !line.starts_with("//")
            && let Some((name, _)) = line.split_once('(')
        {
            order.push(name.to_owned());
            if name == "custom" {
                continue;
            }
            let (wire, kind, queue, doc, record) = cases
                .remove(name)
                .unwrap_or_else(|| panic!("case `{name}` in the text but not in the parser's"));
            entries.push(Entry {
                wire,
                kind,
                queue,
                doc,
                case: Some((name.to_owned(), record)),
            });
        }
    }
    let parsed: Vec<&str> = variant.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        order, parsed,
        "the cases read from the text are the parser's"
    );
    assert_eq!(parsed.last(), Some(&"custom"), "`custom` is the last case");
    Wit { resolve, entries }
}

/// Checks the list itself: names unique and spelled alike everywhere.
fn check_list(wit: &Wit) {
    let mut seen = BTreeSet::new();
    for entry in &wit.entries {
        assert!(seen.insert(&entry.wire), "{} is listed twice", entry.wire);
        let kind = match entry.kind {
            Kind::Command => "command",
            Kind::Event => "event",
        };
        assert!(
            [
                format!("Seed {kind}: "),
                format!("guildhost extension {kind}: ")
            ]
            .iter()
            .any(|start| entry.doc.starts_with(start.as_str())),
            "{}: the text after the queue starts `Seed {kind}: ` or `guildhost extension {kind}: `, \
             got {:?}",
            entry.wire,
            entry.doc
        );
        if let Some((case, record)) = &entry.case {
            assert_eq!(
                upper_camel(case),
                entry.variant(),
                "case `{case}` is not named after {}",
                entry.wire
            );
            let name = wit.resolve.types[*record].name.as_deref();
            assert_eq!(
                name,
                Some(case.as_str()),
                "case `{case}` carries its own record"
            );
        }
    }
}

/// The drift check against what is written by hand: every message type of the list has a
/// protocol struct documented with its wire name (`/// \`SEND_MESSAGE\`: …` above
/// `pub struct SendMessage`), and every such struct is in the list.
fn check_protocol_structs(wit: &Wit) {
    let mut documented = BTreeMap::new();
    for file in ["commands.rs", "events.rs"] {
        let path = root().join("crates/protocol/src").join(file);
        let text = std::fs::read_to_string(&path).expect("protocol source");
        let mut wire = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("/// `")
                && let Some((name, _)) = rest.split_once('`')
                && wire.is_none()
                && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            {
                wire = Some(name.to_owned());
            } else if let Some(rest) = line.strip_prefix("pub struct ") {
                if let Some(name) = wire.take() {
                    let ident: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    documented.insert(name, (ident, file));
                }
            } else if !line.starts_with("///") && !line.starts_with("#[") {
                wire = None;
            }
        }
    }
    let listed: BTreeSet<&str> = wit.entries.iter().map(|e| e.wire.as_str()).collect();
    let structs: BTreeSet<&str> = documented.keys().map(String::as_str).collect();
    assert_eq!(
        listed, structs,
        "the WIT's message list (cases and carried-as-custom lines) and the protocol's payload \
         structs (`/// `WIRE_NAME`: …` above `pub struct`) differ"
    );
    for entry in &wit.entries {
        let (ident, file) = &documented[&entry.wire];
        assert_eq!(
            *ident,
            entry.variant(),
            "crates/protocol/src/{file}: {} is documented on struct {ident}",
            entry.wire
        );
    }
}

const HEADER: &str = "// Generated by crates/sourcegen/tests/sourcegen.rs from wit/types.wit; do not edit.\n\
                      // Regenerate: cargo test -p guildhost-sourcegen --test sourcegen\n";

/// Wraps `text` into doc lines of at most 100 columns.
fn doc_lines(out: &mut String, indent: &str, text: &str) {
    let prefix = format!("{indent}/// ");
    let mut line = prefix.clone();
    for word in text.split_whitespace() {
        if line.len() > prefix.len() && line.len() + 1 + word.len() > 100 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = prefix.clone();
        }
        if line.len() > prefix.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.len() > prefix.len() {
        out.push_str(&line);
        out.push('\n');
    }
}

fn protocol_message_types(wit: &Wit) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\nmessage_types! {\n");
    for entry in &wit.entries {
        doc_lines(&mut out, "    ", &entry.doc);
        let kind = match entry.kind {
            Kind::Command => "Command",
            Kind::Event => "Event",
        };
        writeln!(
            out,
            "    {} = \"{}\", {kind}, {}, {};",
            entry.variant(),
            entry.wire,
            queue_variant(&entry.queue),
            entry.origin()
        )
        .unwrap();
    }
    out.push_str("}\n");
    out
}

fn protocol_payloads(wit: &Wit) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\npayloads! {\n");
    for entry in &wit.entries {
        let variant = entry.variant();
        writeln!(out, "    {variant}({variant}),").unwrap();
    }
    out.push_str("}\n");
    out
}

fn sdk_cases(wit: &Wit) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\nmessage_cases! {\n");
    for (kind, label) in [(Kind::Command, "commands"), (Kind::Event, "events")] {
        writeln!(out, "    {label}: [").unwrap();
        for entry in &wit.entries {
            if entry.kind == kind && entry.case.is_some() {
                writeln!(out, "        {} => \"{}\",", entry.variant(), entry.wire).unwrap();
            }
        }
        out.push_str("    ],\n");
    }
    out.push_str("}\n");
    out
}

fn runtime_type_names(wit: &Wit) -> String {
    let mut out = String::from(HEADER);
    out.push_str(
        "\n//! The queue type name of each case of the WIT `message` variant, as its doc comment in\n\
         //! `wit/types.wit` states it.\n\n\
         use std::borrow::Cow;\n\n\
         use super::Message;\n\n\
         /// The queue type names of the cases of `message` in this WIT version, in WIT order\n\
         /// (`custom` carries any other name).\n\
         pub const MESSAGE_TYPE_NAMES: &[&str] = &[\n",
    );
    for entry in wit.entries.iter().filter(|e| e.case.is_some()) {
        writeln!(out, "\"{}\",", entry.wire).unwrap();
    }
    out.push_str(
        "];\n\n\
         /// The defined message types with no case of their own in this WIT version: plugins see\n\
         /// and emit them as `custom` messages of this name.\n\
         pub const CARRIED_AS_CUSTOM_TYPE_NAMES: &[&str] = &[\n",
    );
    for entry in wit.entries.iter().filter(|e| e.case.is_none()) {
        writeln!(out, "\"{}\",", entry.wire).unwrap();
    }
    out.push_str(
        "];\n\n\
         /// The message type name a WIT message stands for, as written on the queue (`BAN_USER`), or\n\
         /// the custom message's own name.\n\
         pub fn message_type_name(message: &Message) -> Cow<'_, str> {\n\
         Cow::Borrowed(match message {\n",
    );
    for entry in wit.entries.iter().filter(|e| e.case.is_some()) {
        writeln!(
            out,
            "Message::{}(_) => \"{}\",",
            entry.variant(),
            entry.wire
        )
        .unwrap();
    }
    out.push_str("Message::Custom(custom) => custom.type_name.as_str(),\n})\n}\n");
    out
}

/// What the host's conversions map: records and enums reachable from the message cases.
#[derive(Default)]
struct Reachable {
    records: Vec<TypeId>,
    enums: Vec<TypeId>,
    seen: BTreeSet<TypeId>,
}

impl Reachable {
    fn visit(&mut self, resolve: &Resolve, ty: &Type) {
        let Type::Id(id) = ty else { return };
        let def = &resolve.types[*id];
        match &def.kind {
            TypeDefKind::Option(inner) | TypeDefKind::List(inner) | TypeDefKind::Type(inner) => {
                self.visit(resolve, inner);
            }
            TypeDefKind::Record(record) => {
                if self.seen.insert(*id) {
                    self.records.push(*id);
                    for field in &record.fields {
                        self.visit(resolve, &field.ty);
                    }
                }
            }
            TypeDefKind::Enum(_) => {
                if self.seen.insert(*id) {
                    self.enums.push(*id);
                }
            }
            TypeDefKind::Variant(_) => {
                let name = def.name.as_deref().unwrap_or("<anonymous>");
                assert!(
                    HAND_WRITTEN.contains(&name),
                    "variant `{name}` has no generated conversion: add it to HAND_WRITTEN and \
                     convert it by hand in host/src/dispatch/convert.rs"
                );
            }
            other => panic!("no conversion rule for {other:?}"),
        }
    }
}

fn host_conversions(wit: &Wit) -> String {
    let resolve = &wit.resolve;
    let mut used_types = BTreeSet::new();
    let mut used_fields = BTreeSet::new();
    let mut protocol_type = |name: &str| -> String {
        match PROTOCOL_TYPES.iter().find(|(wit, _)| *wit == name) {
            Some((wit, protocol)) => {
                used_types.insert(*wit);
                (*protocol).to_owned()
            }
            None => format!("p::{}", upper_camel(name)),
        }
    };
    let mut reachable = Reachable::default();
    for entry in &wit.entries {
        if let Some((_, record)) = &entry.case {
            reachable.visit(resolve, &Type::Id(*record));
        }
    }

    let mut out = String::from(HEADER);
    out.push_str(
        "//\n\
         // Included by host/src/dispatch/convert.rs: the message cases, and the records and enums\n\
         // they carry, each field converted by its types' `Wire` impl.\n\n\
         messages! {\n",
    );
    let names = |with_case: bool| -> Vec<String> {
        (wit.entries.iter())
            .filter(|e| e.case.is_some() == with_case)
            .map(|e| e.variant())
            .collect()
    };
    wrapped(&mut out, "    cases: [", &names(true), "],");
    wrapped(&mut out, "    carried_as_custom: [", &names(false), "],");
    out.push_str("}\n\nsame_variants! {\n");
    for id in &reachable.enums {
        let def = &resolve.types[*id];
        let name = def.name.as_deref().expect("enums are named");
        let TypeDefKind::Enum(e) = &def.kind else {
            unreachable!()
        };
        let cases: Vec<String> = e.cases.iter().map(|c| upper_camel(&c.name)).collect();
        writeln!(
            out,
            "    {} => w::{} {{ {} }}",
            protocol_type(name),
            upper_camel(name),
            cases.join(", ")
        )
        .unwrap();
    }
    out.push_str("}\n\nrecords! {\n");
    for id in &reachable.records {
        let def = &resolve.types[*id];
        let name = def.name.as_deref().expect("records are named");
        let TypeDefKind::Record(record) = &def.kind else {
            unreachable!()
        };
        let mut same = Vec::new();
        let mut renamed = Vec::new();
        for field in &record.fields {
            match PROTOCOL_FIELDS
                .iter()
                .find(|(r, f, _, _)| *r == name && *f == field.name)
            {
                Some((r, f, protocol, json)) => {
                    used_fields.insert((*r, *f));
                    renamed.push(format!("{protocol} = {}: \"{json}\"", snake(f)));
                }
                None => same.push(format!(
                    "{}: \"{}\"",
                    snake(&field.name),
                    lower_camel(&field.name)
                )),
            }
        }
        let mut items: Vec<String> = same;
        if !renamed.is_empty() {
            let last = items.pop().expect("a record has a field named alike");
            items.push(format!("{last};"));
            items.extend(renamed);
        }
        let head = format!("    {} => w::{} {{", protocol_type(name), upper_camel(name));
        wrapped(&mut out, &head, &items, "}");
    }
    out.push_str("}\n");

    for (name, _) in PROTOCOL_TYPES {
        assert!(
            used_types.contains(name),
            "PROTOCOL_TYPES names `{name}`, which no message reaches"
        );
    }
    for (record, field, _, _) in PROTOCOL_FIELDS {
        assert!(
            used_fields.contains(&(*record, *field)),
            "PROTOCOL_FIELDS names `{record}.{field}`, which no message reaches"
        );
    }
    out
}

/// Writes `head item, item, … tail`, on one line when it fits in 100 columns, else with the
/// items wrapped eight columns in.
fn wrapped(out: &mut String, head: &str, items: &[String], tail: &str) {
    let joined = |items: &[String]| {
        let mut text = String::new();
        for (i, item) in items.iter().enumerate() {
            text.push_str(item);
            if i + 1 < items.len() && !item.ends_with(';') {
                text.push(',');
            }
            if i + 1 < items.len() {
                text.push(' ');
            }
        }
        text
    };
    let one_line = format!("{head} {} {tail}", joined(items));
    let one_line = one_line.replace("[ ", "[").replace(" ]", "]");
    if one_line.len() <= 100 {
        out.push_str(&one_line);
        out.push('\n');
        return;
    }
    out.push_str(head);
    out.push('\n');
    let indent = " ".repeat(head.len() - head.trim_start().len() + 4);
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let sep = if i + 1 < items.len() && !item.ends_with(';') {
            ","
        } else {
            ""
        };
        let piece = format!("{item}{sep}");
        if !line.is_empty() && indent.len() + line.len() + 1 + piece.len() > 100 {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out.push_str(&format!("{}{tail}\n", &indent[4..]));
}

/// Formats Rust source as `cargo fmt` would.
fn rustfmt(source: String) -> String {
    let mut child = Command::new(std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into()))
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("rustfmt runs (rustup component add rustfmt)");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(source.as_bytes())
        .expect("rustfmt reads its input");
    let output = child.wait_with_output().expect("rustfmt finishes");
    assert!(output.status.success(), "rustfmt failed on:\n{source}");
    String::from_utf8(output.stdout).expect("rustfmt writes UTF-8")
}

/// The coverage table of the protocol crate's docs: every message type with its kind, queue,
/// payload, golden fixture and WIT case. Markdown, so the header is an HTML comment.
fn protocol_coverage(wit: &Wit) -> String {
    let mut out = String::from(
        "<!-- Generated by crates/sourcegen/tests/sourcegen.rs from wit/types.wit; do not edit.\n     \
         Regenerate: cargo test -p guildhost-sourcegen --test sourcegen -->\n\n\
         | Type | Kind | Queue | Rust payload | Fixture | WIT case | Conversion |\n\
         |------|------|-------|--------------|---------|----------|------------|\n",
    );
    for entry in &wit.entries {
        let extension = if entry.origin() == "Extension" {
            " (ext.)"
        } else {
            ""
        };
        let kind = match entry.kind {
            Kind::Command => "command",
            Kind::Event => "event",
        };
        let case = entry
            .case
            .as_ref()
            .map_or("custom", |(case, _)| case.as_str());
        writeln!(
            out,
            "| `{wire}`{extension} | {kind} | `{queue}` | [`{variant}`] | `valid/{wire}.json` | \
             `{case}` | `dispatch::convert`, both ways |",
            wire = entry.wire,
            queue = entry.queue,
            variant = entry.variant(),
        )
        .unwrap();
    }
    out.push_str(
        "| any other `type` | — | `webhooks`, `analytics`, … | [`Payload::Custom`] | \
         `valid/custom/ANALYTICS_PAGE_VIEW.json` | `custom` | `dispatch::convert`, both ways |\n",
    );
    out
}

/// The JavaScript SDK's TypeScript declarations of the WIT's types, as componentize-js lifts and
/// lowers them: records are objects with lowerCamelCase fields, an `option` field may be left
/// out, variants are `{ tag, val }`, enums are their case names, 64-bit integers are `bigint`
/// and `list<u8>` is a `Uint8Array`.
fn js_sdk_types(wit: &Wit) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let resolve = &wit.resolve;
    let mut interfaces: Vec<_> = resolve
        .interfaces
        .iter()
        .filter(|(_, interface)| interface.name.is_some())
        .collect();
    interfaces.sort_by_key(|(_, interface)| interface.name.as_deref() != Some("types"));
    for (_, interface) in interfaces {
        for (name, id) in &interface.types {
            let def = &resolve.types[*id];
            // `use types.{…}` in another interface re-exports a type already written.
            if matches!(def.kind, TypeDefKind::Type(Type::Id(other)) if resolve.types[other].name.as_deref() == Some(name.as_str()))
            {
                continue;
            }
            js_doc(
                &mut out,
                "",
                def.docs.contents.as_deref().unwrap_or_default(),
            );
            let ts = upper_camel(name);
            match &def.kind {
                TypeDefKind::Record(record) => {
                    writeln!(out, "export interface {ts} {{").unwrap();
                    for field in &record.fields {
                        js_doc(
                            &mut out,
                            "  ",
                            field.docs.contents.as_deref().unwrap_or_default(),
                        );
                        let (optional, ty) = match field.ty {
                            Type::Id(inner) => match &resolve.types[inner].kind {
                                TypeDefKind::Option(ty) => ("?", js_type(resolve, ty)),
                                _ => ("", js_type(resolve, &field.ty)),
                            },
                            _ => ("", js_type(resolve, &field.ty)),
                        };
                        writeln!(out, "  {}{optional}: {ty};", lower_camel(&field.name)).unwrap();
                    }
                    out.push_str("}\n\n");
                }
                TypeDefKind::Variant(variant) => {
                    writeln!(out, "export type {ts} =").unwrap();
                    for case in &variant.cases {
                        js_doc(
                            &mut out,
                            "  ",
                            case.docs.contents.as_deref().unwrap_or_default(),
                        );
                        match &case.ty {
                            Some(ty) => writeln!(
                                out,
                                "  | {{ tag: '{}'; val: {} }}",
                                case.name,
                                js_type(resolve, ty)
                            ),
                            None => writeln!(out, "  | {{ tag: '{}' }}", case.name),
                        }
                        .unwrap();
                    }
                    out.push_str(";\n\n");
                }
                TypeDefKind::Enum(cases) => {
                    let names: Vec<String> = cases
                        .cases
                        .iter()
                        .map(|case| format!("'{}'", case.name))
                        .collect();
                    writeln!(out, "export type {ts} = {};\n", names.join(" | ")).unwrap();
                }
                TypeDefKind::Type(ty) => {
                    writeln!(out, "export type {ts} = {};\n", js_type(resolve, ty)).unwrap();
                }
                other => panic!("type `{name}`: no TypeScript form for {other:?}"),
            }
        }
    }
    out.push_str(
        "/** The wire name of each message case (`'send-message'` → `'SEND_MESSAGE'`). */\n",
    );
    out.push_str("export interface WireNames {\n");
    for entry in &wit.entries {
        if let Some((case, _)) = &entry.case {
            writeln!(out, "  '{case}': '{}';", entry.wire).unwrap();
        }
    }
    out.push_str("}\n");
    out
}

/// The runtime table behind `WireNames`, for the SDK's JavaScript.
fn js_sdk_wire_names(wit: &Wit) -> String {
    let mut out = String::from(HEADER);
    out.push_str(
        "\n/** The wire name of each message case (`'send-message'` → `'SEND_MESSAGE'`). */\n",
    );
    out.push_str("export const WIRE_NAMES = Object.freeze({\n");
    for entry in &wit.entries {
        if let Some((case, _)) = &entry.case {
            writeln!(out, "  '{case}': '{}',", entry.wire).unwrap();
        }
    }
    out.push_str("});\n");
    out
}

fn js_type(resolve: &Resolve, ty: &Type) -> String {
    match ty {
        Type::Bool => "boolean".into(),
        Type::U8
        | Type::U16
        | Type::U32
        | Type::S8
        | Type::S16
        | Type::S32
        | Type::F32
        | Type::F64 => "number".into(),
        Type::U64 | Type::S64 => "bigint".into(),
        Type::Char | Type::String => "string".into(),
        Type::Id(id) => {
            let def = &resolve.types[*id];
            if let Some(name) = &def.name {
                return upper_camel(name);
            }
            match &def.kind {
                TypeDefKind::List(Type::U8) => "Uint8Array".into(),
                TypeDefKind::List(inner) => format!("Array<{}>", js_type(resolve, inner)),
                TypeDefKind::Option(inner) => format!("{} | undefined", js_type(resolve, inner)),
                TypeDefKind::Type(inner) => js_type(resolve, inner),
                other => panic!("no TypeScript form for {other:?}"),
            }
        }
        other => panic!("no TypeScript form for {other:?}"),
    }
}

/// Writes WIT docs as a JSDoc comment: the item's own, without the `// ----` section headings
/// and carried-as-custom lines wit-parser keeps with them.
fn js_doc(out: &mut String, indent: &str, docs: &str) {
    let docs = own_docs(docs);
    let lines: Vec<&str> = docs.lines().collect();
    let after_headings = lines
        .iter()
        .rposition(|line| !line.trim().is_empty() && line.trim().chars().all(|c| c == '-'))
        .map_or(0, |last| last + 1);
    let docs = lines[after_headings..].join("\n");
    let docs = docs.trim();
    if docs.is_empty() {
        return;
    }
    writeln!(out, "{indent}/**").unwrap();
    for line in docs.lines() {
        let line = line.trim_end().replace("*/", "*\\/");
        if line.is_empty() {
            writeln!(out, "{indent} *").unwrap();
        } else {
            writeln!(out, "{indent} * {line}").unwrap();
        }
    }
    writeln!(out, "{indent} */").unwrap();
}

#[test]
fn generated_files_are_fresh() {
    let wit = load();
    check_list(&wit);
    check_protocol_structs(&wit);
    let files = [
        (
            "crates/protocol/src/generated/message_types.rs",
            protocol_message_types(&wit),
        ),
        (
            "crates/protocol/src/generated/payloads.rs",
            protocol_payloads(&wit),
        ),
        (
            "crates/protocol/src/generated/coverage.md",
            protocol_coverage(&wit),
        ),
        (
            "crates/runtime/src/bindings/type_names.rs",
            rustfmt(runtime_type_names(&wit)),
        ),
        (
            "host/src/dispatch/convert/generated.rs",
            host_conversions(&wit),
        ),
        ("plugins/sdk/src/message_cases.rs", sdk_cases(&wit)),
        ("plugins/sdk-js/types.d.ts", js_sdk_types(&wit)),
        ("plugins/sdk-js/wire-names.js", js_sdk_wire_names(&wit)),
    ];
    // The SDK carries the WIT it is built from, so it builds outside this repository (as a
    // path, git or registry dependency): a copy of `wit/`, kept identical.
    let wit_copies = ["plugins/sdk", "plugins/sdk-js"]
        .into_iter()
        .flat_map(|sdk| {
            ["types.wit", "host.wit", "world.wit"].map(|file| {
                let source = root().join("wit").join(file);
                let text = std::fs::read_to_string(&source)
                    .unwrap_or_else(|error| panic!("{}: {error}", source.display()));
                (format!("{sdk}/wit/{file}"), text)
            })
        });
    let files = files
        .into_iter()
        .map(|(relative, contents)| (relative.to_owned(), contents))
        .chain(wit_copies);
    let mut stale = Vec::new();
    for (relative, contents) in files {
        let path = root().join(&relative);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(contents.as_str()) {
            std::fs::create_dir_all(path.parent().expect("a file has a directory"))
                .expect("create the directory");
            std::fs::write(&path, contents)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            stale.push(relative);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files, now rewritten from wit/types.wit (rerun to accept):\n  {}",
        stale.join("\n  ")
    );
}
