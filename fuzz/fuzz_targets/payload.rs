//! The collector's wire formats: an Events API body (`parse_event`) or a pixel query string with
//! an optional `Referer` (`parse_pixel`), under an arbitrary request context. Whatever the bytes,
//! no panic; an accepted hit keeps every limit the payload module documents, and a rejection's
//! reason names no more of the request than a field.
#![no_main]

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use footfall_collector::payload::{
    self, Hit, Rejection, RequestContext, ENGAGEMENT, MAX_DOMAINS, MAX_ENGAGED_MS, MAX_NAME_BYTES,
    MAX_PROPS, MAX_PROP_KEY_BYTES, MAX_PROP_VALUE_BYTES, MAX_REFERRER_BYTES,
};
use footfall_collector::SiteDomain;
use libfuzzer_sys::fuzz_target;

/// The request around the payload, from the input's first byte: each field of the context
/// varies, though only its passing through untouched is checked.
fn context(flags: u8) -> RequestContext {
    let ip: IpAddr = if flags & 2 == 0 {
        [203, 0, 113, flags].into()
    } else {
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(flags)].into()
    };
    RequestContext {
        received_at: DateTime::<Utc>::from_timestamp(1_700_000_000 + i64::from(flags) * 86_399, 0)
            .expect("a valid instant"),
        client_ip: ip,
        user_agent: if flags & 4 == 0 {
            String::new()
        } else {
            "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0".into()
        },
        prefetch: flags & 8 != 0,
        do_not_track: flags & 16 != 0,
    }
}

/// The fields an Events API body has, as serde names them (`duplicate field X`).
const FIELDS: [&str; 18] = [
    "n",
    "name",
    "u",
    "url",
    "d",
    "domain",
    "r",
    "referrer",
    "p",
    "props",
    "m",
    "meta",
    "h",
    "hashMode",
    "i",
    "interactive",
    "sd",
    "e",
];

fn check_hit(hit: &Hit, context: &RequestContext, pixel: bool) {
    assert!(
        !hit.name.is_empty() && hit.name.trim() == hit.name,
        "{:?}",
        hit.name
    );
    assert!(hit.name.len() <= MAX_NAME_BYTES);
    assert!(matches!(hit.url.scheme(), "http" | "https"), "{}", hit.url);
    assert!(
        hit.url.host_str().is_some_and(|h| !h.is_empty()),
        "{}",
        hit.url
    );
    assert!(!hit.domains.is_empty() && hit.domains.len() <= MAX_DOMAINS);
    for (i, domain) in hit.domains.iter().enumerate() {
        assert!(SiteDomain::parse(domain.as_str()).is_ok(), "{domain}");
        assert!(!hit.domains[..i].contains(domain), "{domain} twice");
    }
    if let Some(referrer) = &hit.referrer {
        assert!(referrer.len() <= MAX_REFERRER_BYTES && !referrer.trim().is_empty());
    }
    assert!(hit.props.len() <= MAX_PROPS);
    for (key, value) in &hit.props {
        assert!(
            key.len() <= MAX_PROP_KEY_BYTES && !key.trim().is_empty(),
            "{key:?}"
        );
        assert!(
            value.len() <= MAX_PROP_VALUE_BYTES && !value.is_empty(),
            "{value:?}"
        );
    }
    match &hit.engagement {
        Some(e) => {
            assert!(!pixel && hit.name == ENGAGEMENT);
            assert!(e.scroll_depth <= 100 && u64::from(e.engaged_ms) <= MAX_ENGAGED_MS);
            assert!(!hit.interactive, "engagement never makes a visit engaged");
        }
        None => assert!(pixel || hit.name != ENGAGEMENT),
    }
    if pixel {
        assert!(hit.props.is_empty() && !hit.hash_mode && hit.interactive);
    }
    // The server's knowledge of the request passes through untouched.
    assert_eq!(hit.context.received_at, context.received_at);
    assert_eq!(hit.context.client_ip, context.client_ip);
    assert_eq!(hit.context.user_agent, context.user_agent);
    assert_eq!(hit.context.prefetch, context.prefetch);
    assert_eq!(hit.context.do_not_track, context.do_not_track);
}

/// A reason keeps only a category and a position of a JSON error, never the body's values.
fn check_rejection(rejection: &Rejection) {
    if let Rejection::InvalidJson(message) = rejection {
        let ok = message == "empty body"
            || message
                .strip_prefix("duplicate field ")
                .is_some_and(|field| FIELDS.contains(&field))
            || [
                "syntax error",
                "unexpected end of input",
                "a field has the wrong type",
                "read error",
            ]
            .iter()
            .any(|category| {
                message
                    .strip_prefix(category)
                    .and_then(|rest| rest.strip_prefix(" at line "))
                    .is_some_and(|rest| {
                        rest.bytes()
                            .all(|b| b.is_ascii_digit() || b" column".contains(&b))
                    })
            });
        assert!(ok, "a JSON error that says more than where: {message:?}");
    }
}

// Input: a byte of flags (bit 0: a pixel; the others: the request context), then an Events API
// body, or a pixel's query string and, after a newline, its `Referer` header.
fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let context = context(flags);
    let pixel = flags & 1 == 1;
    let result = if pixel {
        let text = String::from_utf8_lossy(rest);
        let (query, referer) = match text.split_once('\n') {
            Some((query, referer)) => (query, Some(referer)),
            None => (text.as_ref(), None),
        };
        payload::parse_pixel(query, referer, context.clone())
    } else {
        payload::parse_event(rest, context.clone())
    };
    match result {
        Ok(hit) => check_hit(&hit, &context, pixel),
        Err(rejection) => check_rejection(&rejection),
    }
});
