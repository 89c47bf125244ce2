//! IP address → country, region and city, from MaxMind-format (`.mmdb`) databases.
//!
//! The location is worked out here, at collection time, so that the visitor's IP address can be
//! forgotten straight away: only these coarse, sanitised names ever reach the store.
//!
//! Why it reads several record shapes: the free, redistributable databases (ip-location-db on
//! npm, which CI can fetch without an account) use flat records, while MaxMind's GeoIP2 and
//! GeoLite2 files, which many operators already have, use nested ones. One forgiving record type
//! covers both, so an operator can point us at whichever file they have.
//!
//! Why several files: ip-location-db ships IPv4 and IPv6 as separate files, and an operator may
//! want a precise city database backed by a broader country one.
//!
//! Why sanitise: a database is input we did not write. Whatever it holds ends up in the store
//! and on dashboards, so only a plausible country code and short, printable names get through.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

/// Where an IP address is, as far as the configured database knows. Empty strings mean unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2, upper case, e.g. "DE".
    pub country: String,
    /// A subdivision: "US-CA" (ISO 3166-2) from GeoIP2 files, a name like "California" from
    /// ip-location-db city files.
    pub region: String,
    /// A city name, in English where the database has several languages.
    pub city: String,
}

/// Why a GeoIP database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file is missing, unreadable, or not a MaxMind DB.
    #[error("cannot open GeoIP database {}: {source}", path.display())]
    Open {
        /// The file as configured, so the operator sees which one.
        path: PathBuf,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}

/// The configured GeoIP databases, loaded into memory. Lookups take `&self`, so one instance is
/// shared by all request handlers behind an `Arc`.
pub struct GeoDb {
    /// Consulted in order; the first that has a record for an address answers.
    databases: Vec<(PathBuf, Reader<Vec<u8>>)>,
}

impl GeoDb {
    /// No database configured: every lookup is unknown. The server still runs.
    pub fn none() -> Self {
        GeoDb {
            databases: Vec::new(),
        }
    }

    /// Opens one or more .mmdb files (e.g. separate IPv4 and IPv6 files); a lookup tries each in
    /// order and takes the first that knows the address. No paths is the same as [`GeoDb::none`].
    pub fn open(paths: &[PathBuf]) -> Result<Self, GeoError> {
        let databases = paths
            .iter()
            .map(|path| match Reader::open_readfile(path) {
                Ok(reader) => Ok((path.clone(), reader)),
                Err(source) => Err(GeoError::Open {
                    path: path.clone(),
                    source,
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(GeoDb { databases })
    }

    /// Where `ip` is. Never fails: an address no database knows, or a record that cannot be
    /// read, is simply unknown.
    pub fn lookup(&self, ip: IpAddr) -> Location {
        // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d, which databases (and the
        // private-range checks below) know only in their IPv4 form.
        let ip = ip.to_canonical();
        if !is_public(ip) {
            return Location::default();
        }
        for (_, reader) in &self.databases {
            // An IPv4-only database refuses IPv6 addresses with an error: not ours to answer.
            let Ok(found) = reader.lookup(ip) else {
                continue;
            };
            if found.has_data() {
                return match found.decode::<Record>() {
                    Ok(Some(record)) => record.location(),
                    _ => Location::default(),
                };
            }
        }
        Location::default()
    }

    /// Whether any database is configured, e.g. to say so at start-up.
    pub fn is_configured(&self) -> bool {
        !self.databases.is_empty()
    }

    /// The files in use, in lookup order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.databases.iter().map(|(path, _)| path.as_path())
    }
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<_> = self
            .databases
            .iter()
            .map(|(path, reader)| (path, &reader.metadata().database_type))
            .collect();
        f.debug_struct("GeoDb").field("databases", &files).finish()
    }
}

/// Whether `ip` is worth a lookup: no database places private, loopback, link-local or
/// unspecified addresses, and a wrong answer for one would be worse than none.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unique_local()
                || v6.is_loopback()
                || v6.is_unicast_link_local()
                || v6.is_unspecified())
        }
    }
}

/// Every record shape we understand, as one struct of optional fields; unknown fields are
/// skipped without being decoded.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Record<'a> {
    /// ip-location-db: `{"country_code": "US", "state1": "California", "city": "Mountain View"}`.
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    state1: Option<&'a str>,
    /// A plain name in ip-location-db, `{"names": {"en": ...}}` in GeoIP2.
    #[serde(borrow)]
    city: Option<City<'a>>,
    /// GeoIP2: `{"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "CA"}], ...}`.
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    /// GeoIP2: where the network is registered, for networks with no `country`.
    #[serde(borrow)]
    registered_country: Option<IsoCode<'a>>,
    /// GeoIP2: only the first (largest) subdivision is kept.
    #[serde(borrow, deserialize_with = "first_only")]
    subdivisions: Option<IsoCode<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IsoCode<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum City<'a> {
    Name(&'a str),
    Names {
        #[serde(borrow)]
        names: Names<'a>,
    },
    /// Anything else: an unknown city, not an unreadable record.
    Other(IgnoredAny),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

/// Decodes the first element of a list and skips the rest, so that a long list costs nothing.
fn first_only<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IsoCode<'de>>, D::Error> {
    struct First;
    impl<'de> Visitor<'de> for First {
        type Value = Option<IsoCode<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    d.deserialize_seq(First)
}

impl Record<'_> {
    fn location(&self) -> Location {
        let country = [
            self.country_code,
            self.country.as_ref().and_then(|c| c.iso_code),
            self.registered_country.as_ref().and_then(|c| c.iso_code),
        ]
        .into_iter()
        .flatten()
        .map(clean_country)
        .find(|c| !c.is_empty())
        .unwrap_or_default();

        let subdivision = self.subdivisions.as_ref().and_then(|s| s.iso_code);
        let region = match (self.state1, subdivision) {
            (Some(state), _) => clean_text(state),
            (None, Some(code)) if !country.is_empty() => clean_subdivision(code)
                .map(|code| format!("{country}-{code}"))
                .unwrap_or_default(),
            _ => String::new(),
        };

        let city = match &self.city {
            Some(City::Name(name)) => clean_text(name),
            Some(City::Names { names }) => names.en.map(clean_text).unwrap_or_default(),
            _ => String::new(),
        };

        Location {
            country,
            region,
            city,
        }
    }
}

/// Longest region or city name we keep, in bytes.
const MAX_TEXT_BYTES: usize = 100;

/// Exactly two ASCII letters, upper-cased; anything else is unknown.
fn clean_country(code: &str) -> String {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        code.to_ascii_uppercase()
    } else {
        String::new()
    }
}

/// The part of an ISO 3166-2 code after the country: one to three ASCII letters or digits.
fn clean_subdivision(code: &str) -> Option<String> {
    let plausible =
        (1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric());
    plausible.then(|| code.to_ascii_uppercase())
}

/// Without control characters, trimmed, at most [`MAX_TEXT_BYTES`] (cut at a character boundary).
fn clean_text(text: &str) -> String {
    let printable: String = text.chars().filter(|c| !c.is_control()).collect();
    let trimmed = printable.trim();
    let mut end = trimmed.len().min(MAX_TEXT_BYTES);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    trimmed[..end].trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb_writer::{write_mmdb, write_mmdb_with, MmdbOptions, MmdbValue};
    use std::sync::Arc;
    use tempfile::TempDir;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn loc(country: &str, region: &str, city: &str) -> Location {
        Location {
            country: country.into(),
            region: region.into(),
            city: city.into(),
        }
    }

    /// Writes one database and opens it.
    fn db_with(entries: &[(&str, MmdbValue)]) -> (TempDir, GeoDb) {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("test.mmdb");
        let entries: Vec<_> = entries
            .iter()
            .map(|(net, value)| (net.parse().unwrap(), value.clone()))
            .collect();
        write_mmdb(&path, "Test", &entries).unwrap();
        let db = GeoDb::open(&[path]).unwrap();
        (dir, db)
    }

    fn flat_country(code: &str) -> MmdbValue {
        MmdbValue::map([("country_code", code.into())])
    }

    #[test]
    fn flat_country_records() {
        let (_dir, db) = db_with(&[
            ("8.8.8.0/24", flat_country("US")),
            ("2a00:1450::/32", flat_country("ie")),
            ("9.9.9.0/24", flat_country("USA")),
            ("9.9.10.0/24", flat_country("1A")),
        ]);
        assert!(db.is_configured());
        assert_eq!(db.lookup(ip("8.8.8.8")), loc("US", "", ""));
        assert_eq!(db.lookup(ip("2a00:1450::1")), loc("IE", "", ""));
        // Not two letters: unknown, not mangled.
        assert_eq!(db.lookup(ip("9.9.9.9")), Location::default());
        assert_eq!(db.lookup(ip("9.9.10.9")), Location::default());
        // No record at all.
        assert_eq!(db.lookup(ip("8.8.9.8")), Location::default());
        assert_eq!(db.lookup(ip("2a01::1")), Location::default());
        // IPv4-mapped IPv6, as a dual-stack listener reports IPv4 clients.
        assert_eq!(db.lookup(ip("::ffff:8.8.8.8")), loc("US", "", ""));
    }

    #[test]
    fn flat_city_records() {
        let record = MmdbValue::map([
            ("country_code", "de".into()),
            ("state1", " Berlin\n".into()),
            ("state2", "".into()),
            ("city", "Berlin\u{0}-Mitte".into()),
            ("postcode", "10115".into()),
            ("latitude", 52.52.into()),
            ("longitude", 13.405.into()),
            ("timezone", "Europe/Berlin".into()),
        ]);
        let long_city = MmdbValue::map([
            ("country_code", "FR".into()),
            ("city", format!("x{}", "é".repeat(80)).into()),
        ]);
        let (_dir, db) = db_with(&[("5.1.0.0/16", record), ("5.2.0.0/16", long_city)]);
        assert_eq!(
            db.lookup(ip("5.1.2.3")),
            loc("DE", "Berlin", "Berlin-Mitte")
        );

        let capped = db.lookup(ip("5.2.2.3"));
        assert_eq!(
            capped.city,
            format!("x{}", "é".repeat(49)),
            "cut to at most 100 bytes, on a char boundary"
        );
    }

    fn geoip2_city() -> MmdbValue {
        let names = |en: &str, de: &str| MmdbValue::map([("de", de.into()), ("en", en.into())]);
        MmdbValue::map([
            (
                "city",
                MmdbValue::map([
                    ("geoname_id", MmdbValue::U32(5375480)),
                    ("names", names("Mountain View", "Mountain View")),
                ]),
            ),
            (
                "continent",
                MmdbValue::map([
                    ("code", "NA".into()),
                    ("names", names("North America", "Nordamerika")),
                ]),
            ),
            (
                "country",
                MmdbValue::map([
                    ("iso_code", "US".into()),
                    ("names", names("United States", "USA")),
                ]),
            ),
            (
                "location",
                MmdbValue::map([
                    ("latitude", 37.386.into()),
                    ("longitude", (-122.0838).into()),
                    ("accuracy_radius", MmdbValue::U16(1000)),
                ]),
            ),
            (
                "registered_country",
                MmdbValue::map([("iso_code", "US".into())]),
            ),
            (
                "subdivisions",
                MmdbValue::Array(vec![
                    MmdbValue::map([
                        ("iso_code", "CA".into()),
                        ("names", names("California", "Kalifornien")),
                    ]),
                    MmdbValue::map([("iso_code", "SCC".into())]),
                ]),
            ),
            (
                "traits",
                MmdbValue::map([("is_anycast", MmdbValue::Bool(true))]),
            ),
        ])
    }

    #[test]
    fn geoip2_city_records() {
        let registered_only = MmdbValue::map([
            (
                "registered_country",
                MmdbValue::map([("iso_code", "NL".into())]),
            ),
            (
                "subdivisions",
                MmdbValue::Array(vec![MmdbValue::map([("iso_code", "NH".into())])]),
            ),
        ]);
        let country_only = MmdbValue::map([(
            "country",
            MmdbValue::map([
                ("iso_code", "JP".into()),
                ("names", MmdbValue::map([("ja", "日本".into())])),
            ]),
        )]);
        let (_dir, db) = db_with(&[
            ("8.8.8.0/24", geoip2_city()),
            ("2001:4860::/32", geoip2_city()),
            ("193.0.0.0/21", registered_only),
            ("1.0.16.0/20", country_only),
        ]);
        let mountain_view = loc("US", "US-CA", "Mountain View");
        assert_eq!(db.lookup(ip("8.8.8.8")), mountain_view);
        assert_eq!(db.lookup(ip("2001:4860:4860::8888")), mountain_view);
        assert_eq!(db.lookup(ip("193.0.6.139")), loc("NL", "NL-NH", ""));
        assert_eq!(db.lookup(ip("1.0.16.1")), loc("JP", "", ""));

        // The fixture has the real schema: maxminddb's own GeoIP2 types read it.
        let path = db.paths().next().unwrap();
        let reader = maxminddb::Reader::open_readfile(path).unwrap();
        let found = reader.lookup(ip("8.8.8.8")).unwrap();
        let city: maxminddb::geoip2::City = found.decode().unwrap().unwrap();
        assert_eq!(city.country.iso_code, Some("US"));
        assert_eq!(city.subdivisions[0].iso_code, Some("CA"));
        assert_eq!(city.city.names.english, Some("Mountain View"));
    }

    #[test]
    fn a_record_of_the_wrong_shape_is_unknown() {
        let (_dir, db) = db_with(&[
            ("7.0.0.0/8", "just a string".into()),
            (
                "6.0.0.0/8",
                MmdbValue::map([("country_code", MmdbValue::U32(1))]),
            ),
            (
                "5.0.0.0/8",
                MmdbValue::map([("country_code", "SE".into()), ("city", MmdbValue::U32(7))]),
            ),
        ]);
        assert_eq!(db.lookup(ip("7.7.7.7")), Location::default());
        assert_eq!(db.lookup(ip("6.6.6.6")), Location::default());
        // A strange city does not lose the country.
        assert_eq!(db.lookup(ip("5.5.5.5")), loc("SE", "", ""));
    }

    #[test]
    fn separate_ipv4_and_ipv6_files_are_both_consulted() {
        let dir = TempDir::new().unwrap();
        let v4 = dir.path().join("country-ipv4.mmdb");
        let v6 = dir.path().join("country-ipv6.mmdb");
        // Like ip-location-db's own files: the IPv4 one has an IPv4-only tree.
        let v4_only = MmdbOptions {
            ip_version: 4,
            record_size: None,
        };
        write_mmdb_with(
            &v4,
            "country ipv4",
            &[("8.8.8.0/24".parse().unwrap(), flat_country("US"))],
            v4_only,
        )
        .unwrap();
        write_mmdb(
            &v6,
            "country ipv6",
            &[("2a00:1450::/32".parse().unwrap(), flat_country("IE"))],
        )
        .unwrap();

        for paths in [[v4.clone(), v6.clone()], [v6.clone(), v4.clone()]] {
            let db = GeoDb::open(&paths).unwrap();
            assert_eq!(db.lookup(ip("8.8.8.8")), loc("US", "", ""));
            assert_eq!(db.lookup(ip("2a00:1450::1")), loc("IE", "", ""));
            assert_eq!(db.lookup(ip("9.9.9.9")), Location::default());
            assert_eq!(
                db.paths().collect::<Vec<_>>(),
                [paths[0].as_path(), paths[1].as_path()]
            );
        }
    }

    #[test]
    fn the_first_file_that_knows_an_address_wins() {
        let dir = TempDir::new().unwrap();
        let city = dir.path().join("city.mmdb");
        let country = dir.path().join("country.mmdb");
        write_mmdb(
            &city,
            "city",
            &[("8.8.8.0/24".parse().unwrap(), geoip2_city())],
        )
        .unwrap();
        write_mmdb(
            &country,
            "country",
            &[("8.0.0.0/8".parse().unwrap(), flat_country("GB"))],
        )
        .unwrap();
        let db = GeoDb::open(&[city, country]).unwrap();
        assert_eq!(
            db.lookup(ip("8.8.8.8")),
            loc("US", "US-CA", "Mountain View")
        );
        assert_eq!(db.lookup(ip("8.9.9.9")), loc("GB", "", ""));
    }

    #[test]
    fn private_and_local_addresses_are_unknown() {
        // A database that would place every address, to show that it is not asked.
        let (_dir, db) = db_with(&[("::/0", flat_country("AQ"))]);
        assert_eq!(db.lookup(ip("203.0.113.9")), loc("AQ", "", ""));
        for address in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:192.168.1.1",
        ] {
            assert_eq!(db.lookup(ip(address)), Location::default(), "{address}");
        }
    }

    #[test]
    fn no_database_knows_nothing() {
        let db = GeoDb::none();
        assert!(!db.is_configured());
        assert_eq!(db.lookup(ip("8.8.8.8")), Location::default());
        assert!(!GeoDb::open(&[]).unwrap().is_configured());
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let path = PathBuf::from("/nonexistent/footfall/GeoLite2-City.mmdb");
        let err = GeoDb::open(&[path]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(
                "cannot open GeoIP database /nonexistent/footfall/GeoLite2-City.mmdb: "
            ),
            "{message}"
        );
    }

    #[test]
    fn a_garbage_file_is_an_error_naming_it() {
        let dir = TempDir::new().unwrap();
        let good = dir.path().join("good.mmdb");
        write_mmdb(&good, "Test", &[]).unwrap();
        let garbage = dir.path().join("garbage.mmdb");
        std::fs::write(&garbage, b"<html>404 Not Found</html>").unwrap();
        let err = GeoDb::open(&[good, garbage.clone()]).unwrap_err();
        assert!(
            err.to_string().contains(&*garbage.to_string_lossy()),
            "{err}"
        );
    }

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GeoDb>();
        let (_dir, db) = db_with(&[("8.8.8.0/24", flat_country("US"))]);
        let db = Arc::new(db);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || db.lookup(ip("8.8.8.8")).country)
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), "US");
        }
    }

    #[test]
    fn clean_text_rules() {
        assert_eq!(clean_text("  São Paulo \t"), "São Paulo");
        assert_eq!(clean_text("a\u{7}b\u{9f}c\r\n"), "abc");
        assert_eq!(clean_text(&"x".repeat(150)).len(), 100);
        assert_eq!(clean_text(&format!("{} y", "x".repeat(99))), "x".repeat(99));
        assert_eq!(clean_country("gb"), "GB");
        assert_eq!(clean_country(" G"), "");
        assert_eq!(clean_country("ÄÖ"), "");
    }

    /// Against a real database, which the test command provides (see scripts/fetch-geoip.sh):
    /// the format and shapes in the wild, not only the ones our writer makes.
    #[test]
    fn real_database() {
        let Some(paths) = std::env::var_os("FOOTFALL_REAL_GEOIP").filter(|p| !p.is_empty()) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set FOOTFALL_REAL_GEOIP to real .mmdb file(s) (scripts/fetch-geoip.sh)"
            );
            eprintln!("skipped real_database: FOOTFALL_REAL_GEOIP is not set");
            return;
        };
        let paths: Vec<PathBuf> = std::env::split_paths(&paths).collect();
        let db = GeoDb::open(&paths).unwrap();
        for (address, country) in [
            ("8.8.8.8", "US"),                   // Google Public DNS
            ("2001:4860:4860::8888", "US"),      // Google Public DNS
            ("193.0.6.139", "NL"),               // RIPE NCC, Amsterdam
            ("2001:67c:2e8:22::c100:68b", "NL"), // RIPE NCC, Amsterdam
        ] {
            assert_eq!(
                db.lookup(ip(address)).country,
                country,
                "{address} in {paths:?}"
            );
        }
        assert_eq!(db.lookup(ip("192.168.0.1")), Location::default());
    }
}
