//! A small writer of MaxMind DB (`.mmdb`, format 2.0) files, for tests.
//!
//! Real GeoIP databases are large, licensed and change every day, so tests that need one build
//! their own: a handful of networks with exactly the record shapes under test. Writing the format
//! ourselves (rather than shelling out to MaxMind's Go or Perl writers) keeps the tests hermetic,
//! and reading the result back with the real `maxminddb` crate keeps the writer honest.
//!
//! What it does, and deliberately does not, do:
//! - IPv6 trees (the default) hold IPv4 networks in the `::/96` subtree, where readers look for
//!   them. It writes no aliases (`::ffff:0:0/96`, `2002::/16`), so an IPv4-mapped IPv6 address
//!   is not found: callers should turn such addresses into IPv4 before looking up.
//! - Networks may nest: the most specific network containing an address wins, whatever the order
//!   of the entries. The same network given twice is an error, since one of the two would be lost.
//! - Identical values are stored once, but the data section uses no pointers within values.
//! - The record size is the smallest of 24, 28 and 32 bits that fits, unless one is asked for.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

/// A value of the MaxMind DB data section.
#[derive(Debug, Clone, PartialEq)]
pub enum MmdbValue {
    String(String),
    Double(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Bool(bool),
    /// Keys keep their order, as written.
    Map(Vec<(String, MmdbValue)>),
    Array(Vec<MmdbValue>),
}

impl MmdbValue {
    /// A map from `(key, value)` pairs, for terse test fixtures.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, MmdbValue)>) -> Self {
        MmdbValue::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<&str> for MmdbValue {
    fn from(s: &str) -> Self {
        MmdbValue::String(s.to_owned())
    }
}

impl From<String> for MmdbValue {
    fn from(s: String) -> Self {
        MmdbValue::String(s)
    }
}

impl From<u32> for MmdbValue {
    fn from(n: u32) -> Self {
        MmdbValue::U32(n)
    }
}

impl From<f64> for MmdbValue {
    fn from(x: f64) -> Self {
        MmdbValue::Double(x)
    }
}

/// How to lay out the file. The default is what real GeoIP2 databases use: an IPv6 tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmdbOptions {
    /// 6 (IPv4 and IPv6 networks) or 4 (IPv4 networks only, like ip-location-db's `-ipv4` files).
    pub ip_version: u16,
    /// 24, 28 or 32; `None` picks the smallest that can address every node and record.
    pub record_size: Option<u16>,
}

impl Default for MmdbOptions {
    fn default() -> Self {
        MmdbOptions {
            ip_version: 6,
            record_size: None,
        }
    }
}

/// Writes an IPv6-tree database holding `entries` to `path`.
pub fn write_mmdb(
    path: &Path,
    database_type: &str,
    entries: &[(IpNet, MmdbValue)],
) -> io::Result<()> {
    write_mmdb_with(path, database_type, entries, MmdbOptions::default())
}

/// Writes a database holding `entries` to `path`, laid out as `options` says.
pub fn write_mmdb_with(
    path: &Path,
    database_type: &str,
    entries: &[(IpNet, MmdbValue)],
    options: MmdbOptions,
) -> io::Result<()> {
    std::fs::write(path, encode_mmdb(database_type, entries, options)?)
}

/// The bytes of a database holding `entries`, for readers that take a buffer.
pub fn encode_mmdb(
    database_type: &str,
    entries: &[(IpNet, MmdbValue)],
    options: MmdbOptions,
) -> io::Result<Vec<u8>> {
    let ipv6_tree = match options.ip_version {
        6 => true,
        4 => false,
        v => return Err(invalid(format!("ip_version must be 4 or 6, not {v}"))),
    };

    // Place networks from broadest to most specific, so that a specific network always overwrites
    // the part of a broader one it covers, never the other way round.
    let mut placed: Vec<(u128, u8, usize)> = Vec::with_capacity(entries.len());
    let mut seen = HashSet::new();
    let mut data = DataSection::default();
    for (net, value) in entries {
        let (key, prefix) = tree_position(net.trunc(), ipv6_tree)?;
        if !seen.insert((key, prefix)) {
            return Err(invalid(format!("network {net} appears more than once")));
        }
        placed.push((key, prefix, data.add(value)?));
    }
    placed.sort_by_key(|&(_, prefix, _)| prefix);

    let mut tree = Tree::default();
    for (key, prefix, offset) in placed {
        tree.insert(key, prefix, offset);
    }

    let node_count = tree.nodes.len();
    let largest_record = node_count + DATA_SEPARATOR_LEN + data.bytes.len();
    let record_size = match options.record_size {
        Some(size @ (24 | 28 | 32)) if largest_record < 1usize << size => size,
        Some(size @ (24 | 28 | 32)) => {
            return Err(invalid(format!(
                "{size}-bit records cannot address {largest_record}"
            )))
        }
        Some(size) => {
            return Err(invalid(format!(
                "record size must be 24, 28 or 32, not {size}"
            )))
        }
        None => match [24, 28, 32]
            .into_iter()
            .find(|&s| largest_record < 1usize << s)
        {
            Some(size) => size,
            None => return Err(invalid("database too large for 32-bit records")),
        },
    };

    let mut out = Vec::with_capacity(node_count * 8 + DATA_SEPARATOR_LEN + data.bytes.len() + 512);
    for node in &tree.nodes {
        let [left, right] = node.map(|slot| match slot {
            Slot::Empty => node_count as u32,
            Slot::Node(n) => n as u32,
            Slot::Data(offset) => (node_count + DATA_SEPARATOR_LEN + offset) as u32,
        });
        write_node(&mut out, record_size, left, right);
    }
    out.extend_from_slice(&[0; DATA_SEPARATOR_LEN]);
    out.extend_from_slice(&data.bytes);
    out.extend_from_slice(METADATA_MARKER);

    let build_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let metadata = MmdbValue::map([
        ("binary_format_major_version", MmdbValue::U16(2)),
        ("binary_format_minor_version", MmdbValue::U16(0)),
        ("build_epoch", MmdbValue::U64(build_epoch)),
        ("database_type", database_type.into()),
        (
            "description",
            MmdbValue::map([("en", "Footfall test database".into())]),
        ),
        ("ip_version", MmdbValue::U16(options.ip_version)),
        ("languages", MmdbValue::Array(vec!["en".into()])),
        ("node_count", MmdbValue::U32(node_count as u32)),
        ("record_size", MmdbValue::U16(record_size)),
    ]);
    encode_value(&metadata, &mut out)?;
    Ok(out)
}

const DATA_SEPARATOR_LEN: usize = 16;
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.into())
}

/// Where a network sits in the tree: its address as 128 bits read from the top, and its depth.
fn tree_position(net: IpNet, ipv6_tree: bool) -> io::Result<(u128, u8)> {
    match net {
        // IPv4 lives at ::a.b.c.d in an IPv6 tree, which is where readers look for it.
        IpNet::V4(v4) if ipv6_tree => Ok((u32::from(v4.addr()) as u128, v4.prefix_len() + 96)),
        IpNet::V4(v4) => Ok(((u32::from(v4.addr()) as u128) << 96, v4.prefix_len())),
        IpNet::V6(v6) if ipv6_tree => Ok((u128::from(v6.addr()), v6.prefix_len())),
        IpNet::V6(v6) => Err(invalid(format!("IPv6 network {v6} in an IPv4 database"))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    Node(usize),
    /// An offset into the data section.
    Data(usize),
}

struct Tree {
    /// Node 0 is the root; a node's two slots are for bit 0 and bit 1.
    nodes: Vec<[Slot; 2]>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            nodes: vec![[Slot::Empty; 2]],
        }
    }
}

impl Tree {
    /// Points the network's slot at `offset`. Callers insert broader networks first.
    fn insert(&mut self, key: u128, prefix: u8, offset: usize) {
        let bit = |i: u8| ((key >> (127 - i)) & 1) as usize;
        if prefix == 0 {
            self.nodes[0] = [Slot::Data(offset); 2];
            return;
        }
        let mut node = 0;
        for i in 0..prefix - 1 {
            node = match self.nodes[node][bit(i)] {
                Slot::Node(next) => next,
                // An empty slot, or a broader network this one splits: both halves keep what the
                // slot held, and the walk goes on in the half that holds this network.
                inherited => {
                    let next = self.nodes.len();
                    self.nodes.push([inherited; 2]);
                    self.nodes[node][bit(i)] = Slot::Node(next);
                    next
                }
            };
        }
        // Only a more specific network could have put a node here, and none came before this one.
        debug_assert!(!matches!(self.nodes[node][bit(prefix - 1)], Slot::Node(_)));
        self.nodes[node][bit(prefix - 1)] = Slot::Data(offset);
    }
}

fn write_node(out: &mut Vec<u8>, record_size: u16, left: u32, right: u32) {
    let (l, r) = (left.to_be_bytes(), right.to_be_bytes());
    match record_size {
        24 => out.extend_from_slice(&[l[1], l[2], l[3], r[1], r[2], r[3]]),
        // The middle byte holds the top nibble of the left record, then that of the right one.
        28 => out.extend_from_slice(&[
            l[1],
            l[2],
            l[3],
            (l[0] & 0x0F) << 4 | (r[0] & 0x0F),
            r[1],
            r[2],
            r[3],
        ]),
        _ => {
            out.extend_from_slice(&l);
            out.extend_from_slice(&r);
        }
    }
}

/// The data section, storing each distinct value once.
#[derive(Default)]
struct DataSection {
    bytes: Vec<u8>,
    offsets: HashMap<Vec<u8>, usize>,
}

impl DataSection {
    fn add(&mut self, value: &MmdbValue) -> io::Result<usize> {
        let mut encoded = Vec::new();
        encode_value(value, &mut encoded)?;
        if let Some(&offset) = self.offsets.get(&encoded) {
            return Ok(offset);
        }
        let offset = self.bytes.len();
        self.bytes.extend_from_slice(&encoded);
        self.offsets.insert(encoded, offset);
        Ok(offset)
    }
}

const TYPE_STRING: u8 = 2;
const TYPE_DOUBLE: u8 = 3;
const TYPE_UINT16: u8 = 5;
const TYPE_UINT32: u8 = 6;
const TYPE_MAP: u8 = 7;
const TYPE_UINT64: u8 = 9;
const TYPE_ARRAY: u8 = 11;
const TYPE_BOOL: u8 = 14;

fn encode_value(value: &MmdbValue, out: &mut Vec<u8>) -> io::Result<()> {
    match value {
        MmdbValue::String(s) => {
            write_control(out, TYPE_STRING, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        MmdbValue::Double(x) => {
            write_control(out, TYPE_DOUBLE, 8)?;
            out.extend_from_slice(&x.to_be_bytes());
        }
        MmdbValue::U16(n) => write_uint(out, TYPE_UINT16, &n.to_be_bytes())?,
        MmdbValue::U32(n) => write_uint(out, TYPE_UINT32, &n.to_be_bytes())?,
        MmdbValue::U64(n) => write_uint(out, TYPE_UINT64, &n.to_be_bytes())?,
        // A boolean is all control byte: its size is its value.
        MmdbValue::Bool(b) => write_control(out, TYPE_BOOL, usize::from(*b))?,
        MmdbValue::Map(pairs) => {
            write_control(out, TYPE_MAP, pairs.len())?;
            for (key, value) in pairs {
                write_control(out, TYPE_STRING, key.len())?;
                out.extend_from_slice(key.as_bytes());
                encode_value(value, out)?;
            }
        }
        MmdbValue::Array(items) => {
            write_control(out, TYPE_ARRAY, items.len())?;
            for item in items {
                encode_value(item, out)?;
            }
        }
    }
    Ok(())
}

/// Unsigned integers are stored big-endian without leading zero bytes (zero takes none).
fn write_uint(out: &mut Vec<u8>, type_num: u8, be_bytes: &[u8]) -> io::Result<()> {
    let significant = &be_bytes[be_bytes.iter().take_while(|&&b| b == 0).count()..];
    write_control(out, type_num, significant.len())?;
    out.extend_from_slice(significant);
    Ok(())
}

/// The control byte (type in the top 3 bits, size in the low 5), the extended type byte for
/// types above 7, then 0 to 3 bytes more of size.
fn write_control(out: &mut Vec<u8>, type_num: u8, size: usize) -> io::Result<()> {
    let (size_bits, extra): (u8, &[u8]) = match size {
        0..=28 => (size as u8, &[]),
        29..=284 => (29, &[(size - 29) as u8]),
        285..=65_820 => (30, &((size - 285) as u16).to_be_bytes()),
        65_821..=16_843_036 => (31, &((size - 65_821) as u32).to_be_bytes()[1..]),
        _ => return Err(invalid(format!("value of size {size} is too large"))),
    };
    if type_num <= 7 {
        out.push(type_num << 5 | size_bits);
    } else {
        out.extend_from_slice(&[size_bits, type_num - 7]);
    }
    out.extend_from_slice(extra);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxminddb::Reader;
    use proptest::prelude::*;
    use serde::Deserialize;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn reader(entries: &[(IpNet, MmdbValue)], options: MmdbOptions) -> Reader<Vec<u8>> {
        let bytes = encode_mmdb("Test", entries, options).unwrap();
        let reader = Reader::from_source(bytes).unwrap();
        reader.verify().unwrap();
        reader
    }

    fn lookup_str(reader: &Reader<Vec<u8>>, address: &str) -> Option<String> {
        reader
            .lookup(ip(address))
            .unwrap()
            .decode::<String>()
            .unwrap()
    }

    #[test]
    fn ipv4_and_ipv6_hits_and_misses() {
        let db = reader(
            &[
                (net("1.2.3.0/24"), "v4".into()),
                (net("2001:db8::/32"), "v6".into()),
            ],
            MmdbOptions::default(),
        );
        assert_eq!(db.metadata().ip_version, 6);
        assert_eq!(db.metadata().database_type, "Test");
        assert_eq!(lookup_str(&db, "1.2.3.4").as_deref(), Some("v4"));
        assert_eq!(lookup_str(&db, "1.2.3.255").as_deref(), Some("v4"));
        assert_eq!(lookup_str(&db, "2001:db8:1::1").as_deref(), Some("v6"));
        assert_eq!(lookup_str(&db, "1.2.4.0"), None);
        assert_eq!(lookup_str(&db, "2001:db9::1"), None);
        assert_eq!(lookup_str(&db, "::"), None);
        let found = db.lookup(ip("1.2.3.4")).unwrap();
        assert_eq!(found.network().unwrap().to_string(), "1.2.3.0/24");
    }

    #[test]
    fn nested_networks_most_specific_wins_in_any_order() {
        let mut entries = vec![
            (net("10.0.0.0/8"), "broad".into()),
            (net("10.1.0.0/16"), "middle".into()),
            (net("10.1.2.0/24"), "narrow".into()),
            (net("10.1.2.3/32"), "host".into()),
        ];
        for _ in 0..2 {
            let db = reader(&entries, MmdbOptions::default());
            assert_eq!(lookup_str(&db, "10.200.0.1").as_deref(), Some("broad"));
            assert_eq!(lookup_str(&db, "10.1.200.1").as_deref(), Some("middle"));
            assert_eq!(lookup_str(&db, "10.1.2.200").as_deref(), Some("narrow"));
            assert_eq!(lookup_str(&db, "10.1.2.3").as_deref(), Some("host"));
            assert_eq!(lookup_str(&db, "11.0.0.0"), None);
            entries.reverse();
        }
    }

    #[test]
    fn a_whole_space_network_covers_ipv4_too() {
        let db = reader(
            &[
                (net("::/0"), "anywhere".into()),
                (net("5.0.0.0/8"), "five".into()),
            ],
            MmdbOptions::default(),
        );
        assert_eq!(lookup_str(&db, "5.5.5.5").as_deref(), Some("five"));
        assert_eq!(lookup_str(&db, "6.6.6.6").as_deref(), Some("anywhere"));
        assert_eq!(lookup_str(&db, "2a00::1").as_deref(), Some("anywhere"));
    }

    #[test]
    fn ipv4_tree() {
        let options = MmdbOptions {
            ip_version: 4,
            record_size: None,
        };
        let db = reader(&[(net("192.0.2.0/24"), "doc".into())], options);
        assert_eq!(db.metadata().ip_version, 4);
        assert_eq!(lookup_str(&db, "192.0.2.7").as_deref(), Some("doc"));
        assert_eq!(lookup_str(&db, "192.0.3.7"), None);
        assert!(db.lookup(ip("2001:db8::1")).is_err());

        let v6_in_v4 = encode_mmdb("Test", &[(net("2001:db8::/32"), "x".into())], options);
        assert_eq!(v6_in_v4.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn empty_database_is_valid() {
        let db = reader(&[], MmdbOptions::default());
        assert_eq!(lookup_str(&db, "1.1.1.1"), None);
        assert_eq!(lookup_str(&db, "2001:db8::1"), None);
    }

    #[test]
    fn duplicate_network_is_an_error() {
        let err = encode_mmdb(
            "Test",
            &[
                (net("10.0.0.0/8"), "a".into()),
                (net("10.9.9.9/8"), "b".into()),
            ],
            MmdbOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("10.9.9.9/8"), "{err}");
    }

    #[test]
    fn bad_options_are_errors() {
        let entries = [(net("10.0.0.0/8"), "a".into())];
        for options in [
            MmdbOptions {
                ip_version: 5,
                record_size: None,
            },
            MmdbOptions {
                ip_version: 6,
                record_size: Some(16),
            },
        ] {
            assert!(encode_mmdb("Test", &entries, options).is_err());
        }
    }

    #[test]
    fn every_record_size_reads_back() {
        let entries = [
            (net("10.0.0.0/8"), "v4".into()),
            (net("2001:db8::/48"), "v6".into()),
        ];
        for size in [24, 28, 32] {
            let options = MmdbOptions {
                ip_version: 6,
                record_size: Some(size),
            };
            let db = reader(&entries, options);
            assert_eq!(db.metadata().record_size, size);
            assert_eq!(lookup_str(&db, "10.1.1.1").as_deref(), Some("v4"));
            assert_eq!(lookup_str(&db, "2001:db8:0:1::").as_deref(), Some("v6"));
        }
    }

    #[test]
    fn picks_28_bit_records_when_24_do_not_fit() {
        // One string value of 16 MiB pushes data pointers past 2^24.
        let entries = [
            (net("10.0.0.0/8"), "small".into()),
            (net("11.0.0.0/8"), MmdbValue::String("x".repeat(1 << 24))),
            (net("12.0.0.0/8"), "after".into()),
        ];
        let db = reader(&entries, MmdbOptions::default());
        assert_eq!(db.metadata().record_size, 28);
        assert_eq!(lookup_str(&db, "12.0.0.1").as_deref(), Some("after"));
        assert_eq!(lookup_str(&db, "11.0.0.1").map(|s| s.len()), Some(1 << 24));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct AllTypes {
        text: String,
        long_text: String,
        longer_text: String,
        double: f64,
        small: u16,
        medium: u32,
        zero: u32,
        large: u64,
        yes: bool,
        no: bool,
        list: Vec<u32>,
        nested: HashMap<String, String>,
    }

    #[test]
    fn every_value_type_reads_back() {
        let value = MmdbValue::map([
            ("text", "héllo".into()),
            ("long_text", MmdbValue::String("a".repeat(200))),
            ("longer_text", MmdbValue::String("b".repeat(70_000))),
            ("double", 52.52.into()),
            ("small", MmdbValue::U16(300)),
            ("medium", MmdbValue::U32(70_000)),
            ("zero", MmdbValue::U32(0)),
            ("large", MmdbValue::U64(u64::MAX)),
            ("yes", MmdbValue::Bool(true)),
            ("no", MmdbValue::Bool(false)),
            (
                "list",
                MmdbValue::Array((0..40).map(MmdbValue::U32).collect()),
            ),
            ("nested", MmdbValue::map([("en", "Berlin".into())])),
        ]);
        let db = reader(&[(net("10.0.0.0/8"), value)], MmdbOptions::default());
        let got: AllTypes = db
            .lookup(ip("10.0.0.1"))
            .unwrap()
            .decode()
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            AllTypes {
                text: "héllo".into(),
                long_text: "a".repeat(200),
                longer_text: "b".repeat(70_000),
                double: 52.52,
                small: 300,
                medium: 70_000,
                zero: 0,
                large: u64::MAX,
                yes: true,
                no: false,
                list: (0..40).collect(),
                nested: HashMap::from([("en".to_owned(), "Berlin".to_owned())]),
            }
        );
    }

    /// A random network: IPv4 or IPv6, with random bits and prefix.
    fn arb_net() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<u32>(), 0u8..=32).prop_map(|(bits, prefix)| {
                IpNet::new(Ipv4Addr::from(bits).into(), prefix)
                    .unwrap()
                    .trunc()
            }),
            // Few top bits vary, so that IPv6 networks nest and collide often enough to matter.
            (0u128..16, any::<u128>(), 0u8..=128).prop_map(|(top, rest, prefix)| {
                let bits = top << 124 | rest >> 4;
                IpNet::new(Ipv6Addr::from(bits).into(), prefix)
                    .unwrap()
                    .trunc()
            }),
        ]
    }

    /// The address `host` would have inside `net`.
    fn address_in(net: IpNet, host: u128) -> IpAddr {
        match net {
            IpNet::V4(v4) => {
                let host_mask = u32::MAX
                    .checked_shr(u32::from(v4.prefix_len()))
                    .unwrap_or(0);
                Ipv4Addr::from(u32::from(v4.network()) | (host as u32 & host_mask)).into()
            }
            IpNet::V6(v6) => {
                let host_mask = u128::MAX
                    .checked_shr(u32::from(v6.prefix_len()))
                    .unwrap_or(0);
                Ipv6Addr::from(u128::from(v6.network()) | (host & host_mask)).into()
            }
        }
    }

    /// The naive model: the longest network containing the address, IPv4 seen as `::a.b.c.d`.
    fn model_lookup(entries: &[(IpNet, MmdbValue)], address: IpAddr) -> Option<u32> {
        let as_v6 = |a: IpAddr| match a {
            IpAddr::V4(v4) => Ipv6Addr::from(u32::from(v4) as u128),
            IpAddr::V6(v6) => v6,
        };
        let in_tree = |n: &IpNet| match n {
            IpNet::V4(v4) => {
                ipnet::Ipv6Net::new(as_v6(v4.addr().into()), v4.prefix_len() + 96).unwrap()
            }
            IpNet::V6(v6) => *v6,
        };
        entries
            .iter()
            .filter(|(n, _)| in_tree(n).contains(&as_v6(address)))
            .max_by_key(|(n, _)| in_tree(n).prefix_len())
            .map(|(_, v)| match v {
                MmdbValue::U32(id) => *id,
                _ => unreachable!(),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn random_networks_match_a_naive_model(
            nets in prop::collection::vec(arb_net(), 1..300),
            hosts in prop::collection::vec(any::<u128>(), 300),
            strangers in prop::collection::vec(any::<u128>(), 50),
            record_size in prop_oneof![Just(None), Just(Some(24)), Just(Some(28)), Just(Some(32))],
        ) {
            let mut seen = HashSet::new();
            let entries: Vec<(IpNet, MmdbValue)> = nets
                .into_iter()
                .filter(|n| seen.insert(*n))
                .enumerate()
                .map(|(i, n)| (n, MmdbValue::U32(i as u32 % 7)))
                .collect();
            let db = reader(&entries, MmdbOptions { ip_version: 6, record_size });

            let mut probes: Vec<IpAddr> = entries
                .iter()
                .zip(&hosts)
                .map(|((n, _), &h)| address_in(*n, h))
                .collect();
            for &bits in &strangers {
                probes.push(Ipv6Addr::from(bits).into());
                probes.push(Ipv4Addr::from(bits as u32).into());
            }
            for address in probes {
                let got: Option<u32> = db.lookup(address).unwrap().decode().unwrap();
                prop_assert_eq!(got, model_lookup(&entries, address), "address {}", address);
            }
        }
    }
}
